variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster (also the prefix of its roles, node group and log group)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-40 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen (it prefixes IAM role names)."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and the node group, e.g. 1.33."

  validation {
    condition     = can(regex("^1\\.(2[89]|3[0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version from 1.28 to 1.39, written like 1.33."
  }
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets (at least two zones) for the control plane's network interfaces and the nodes."

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "private_subnet_ids must list at least two subnet ids (subnet-…)."
  }
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "Networks allowed to reach the Kubernetes API from the internet. Empty (the default) keeps the API endpoint private to the VPC."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.public_access_cidrs : can(cidrhost(cidr, 0)) && !endswith(cidr, "/0")])
    error_message = "public_access_cidrs must be CIDR blocks narrower than the whole internet (no /0)."
  }
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles or users given cluster-admin through EKS access entries. The identity running Terraform gets no implicit access."

  validation {
    condition     = length(var.admin_principal_arns) >= 1 && alltrue([for arn in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$", arn))])
    error_message = "admin_principal_arns must list at least one IAM role or user ARN."
  }
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that envelope-encrypts Kubernetes Secrets."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the control plane's log group."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days the control plane logs (api, audit, authenticator, controller manager, scheduler) are kept; a CloudWatch retention value of at least one year."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365."
  }
}

variable "node_instance_types" {
  type        = list(string)
  description = "EC2 instance types of the managed node group (the first that has capacity is used)."
  default     = ["m7i.large"]

  validation {
    condition     = length(var.node_instance_types) >= 1 && alltrue([for t in var.node_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "node_instance_types must list at least one EC2 instance type such as m7i.large."
  }
}

variable "node_min_size" {
  type        = number
  description = "Fewest nodes in the node group. OpenBao runs three replicas spread over nodes, so at least three."
  default     = 3

  validation {
    condition     = var.node_min_size >= 3 && var.node_min_size <= 100 && floor(var.node_min_size) == var.node_min_size
    error_message = "node_min_size must be a whole number from 3 to 100 (OpenBao's three HA replicas need three nodes)."
  }
}

variable "node_desired_size" {
  type        = number
  description = "Nodes the group starts with (later left to the cluster autoscaler: Terraform ignores drift here)."
  default     = 3

  validation {
    condition     = var.node_desired_size >= var.node_min_size && var.node_desired_size <= var.node_max_size && floor(var.node_desired_size) == var.node_desired_size
    error_message = "node_desired_size must be a whole number from node_min_size to node_max_size."
  }
}

variable "node_max_size" {
  type        = number
  description = "Most nodes in the node group."
  default     = 6

  validation {
    condition     = var.node_max_size >= var.node_min_size && var.node_max_size <= 100 && floor(var.node_max_size) == var.node_max_size
    error_message = "node_max_size must be a whole number from node_min_size to 100."
  }
}

variable "node_disk_size_gib" {
  type        = number
  description = "Root volume of each node in GiB (encrypted gp3; holds container images and pods' scratch space)."
  default     = 50

  validation {
    condition     = var.node_disk_size_gib >= 20 && var.node_disk_size_gib <= 1000 && floor(var.node_disk_size_gib) == var.node_disk_size_gib
    error_message = "node_disk_size_gib must be a whole number from 20 to 1000."
  }
}

variable "openbao_unseal_key_arn" {
  type        = string
  description = "ARN of the KMS key OpenBao's awskms seal uses; the OpenBao pods' role may use only this key, only to encrypt, decrypt and describe."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.openbao_unseal_key_arn))
    error_message = "openbao_unseal_key_arn must be a KMS key ARN."
  }
}

variable "openbao_namespace" {
  type        = string
  description = "Kubernetes namespace OpenBao is installed in."
  default     = "openbao"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.openbao_namespace))
    error_message = "openbao_namespace must be a Kubernetes namespace name (DNS label: lower-case letters, digits, hyphens; at most 63)."
  }
}

variable "openbao_service_account" {
  type        = string
  description = "Kubernetes ServiceAccount of the OpenBao server pods (the one that gets the unseal role)."
  default     = "openbao"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.openbao_service_account))
    error_message = "openbao_service_account must be a Kubernetes object name (lower-case letters, digits, '-' and '.')."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
