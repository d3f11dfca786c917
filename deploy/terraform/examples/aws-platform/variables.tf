variable "name" {
  type        = string
  description = "Name of this platform: prefixes every resource (cluster, database, keys, roles)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "account_id" {
  type        = string
  description = "AWS account the platform belongs in; the provider refuses credentials of any other account."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "region" {
  type        = string
  description = "AWS region, e.g. eu-central-1."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-central-1."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Two to six zones of the region; one NAT gateway, and so one egress IP, per zone."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list two to six distinct zones."
  }

  validation {
    condition     = alltrue([for zone in var.availability_zones : startswith(zone, var.region)])
    error_message = "Every availability zone must belong to the region (eu-central-1a for eu-central-1)."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 block of the VPC, /16 to /20."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the EKS cluster, e.g. 1.33."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be written like 1.33."
  }
}

variable "cluster_admin_arns" {
  type        = list(string)
  description = "IAM roles or users that get cluster-admin on EKS (the operator's, and the provisioner's)."

  validation {
    condition     = length(var.cluster_admin_arns) >= 1
    error_message = "cluster_admin_arns must name at least one IAM role or user, or nobody could reach the cluster."
  }
}

variable "cluster_public_access_cidrs" {
  type        = list(string)
  description = "Networks that may reach the Kubernetes API from the internet; empty keeps it private to the VPC."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.cluster_public_access_cidrs : can(cidrhost(cidr, 0)) && !endswith(cidr, "/0")])
    error_message = "cluster_public_access_cidrs must be CIDR blocks narrower than /0."
  }
}

variable "database_instance_class" {
  type        = string
  description = "RDS instance class of the Postgres database."
  default     = "db.m7g.large"

  validation {
    condition     = startswith(var.database_instance_class, "db.")
    error_message = "database_instance_class must be an RDS instance class (db.…)."
  }
}

variable "database_multi_az" {
  type        = bool
  description = "Run the database with a synchronous standby in a second zone."
  default     = true
}

variable "backup_bucket_name" {
  type        = string
  description = "Globally unique name of the S3 backup bucket."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.backup_bucket_name))
    error_message = "backup_bucket_name must be a valid S3 bucket name."
  }
}

variable "openbao_replicas" {
  type        = number
  description = "OpenBao Raft replicas in the rendered Helm values: an odd number from 3 to 7."
  default     = 3

  validation {
    condition     = contains([3, 5, 7], var.openbao_replicas)
    error_message = "openbao_replicas must be 3, 5 or 7 (Raft needs an odd number for a quorum)."
  }
}
