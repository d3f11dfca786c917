variable "name_prefix" {
  type        = string
  description = "Prefix of every name this module creates (lower-case letters, digits and hyphens; starts with a letter)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 block of the VPC, a /16 to /20. It is cut into eight equal blocks: one private (node and pod) subnet per zone, plus one block each sliced into the public and the database subnets."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|20)$", var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block with a prefix length from /16 to /20."
  }

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false)
    error_message = "vpc_cidr must be the block's network address (e.g. 10.40.0.0/16, not 10.40.1.0/16)."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread the subnets and NAT gateways over: two to six distinct zone names of one region."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "availability_zones must list from two to six zones."
  }

  validation {
    condition     = length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must not repeat a zone."
  }

  validation {
    condition     = alltrue([for zone in var.availability_zones : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", zone))])
    error_message = "Each availability zone must be a zone name such as eu-central-1a."
  }
}

variable "nat_eip_allocation_ids" {
  type        = list(string)
  description = "Allocation ids of the Elastic IPs (egress-ips module) for the NAT gateways, one per availability zone, in zone order."

  validation {
    condition     = length(var.nat_eip_allocation_ids) == length(var.availability_zones)
    error_message = "nat_eip_allocation_ids must hold exactly one allocation id per availability zone."
  }

  validation {
    condition     = alltrue([for id in var.nat_eip_allocation_ids : can(regex("^eipalloc-[0-9a-f]{8,17}$", id))])
    error_message = "Each NAT allocation id must look like eipalloc-0123456789abcdef0."
  }
}

variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster that will use the subnets (tags them for its load balancers)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold at most 100 letters, digits and hyphens."
  }
}

variable "logs_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the VPC flow log group."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days the VPC flow logs are kept (a CloudWatch retention value of at least one year)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch retention value of at least 365 (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
