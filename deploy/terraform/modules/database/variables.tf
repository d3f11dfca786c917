variable "identifier" {
  type        = string
  description = "RDS instance identifier (also the prefix of its subnet group, parameter group, security group and roles)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "identifier must be 3-40 lower-case letters, digits or single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database's security group."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "database_subnet_ids" {
  type        = list(string)
  description = "Subnets without internet routes, in at least two zones (a Multi-AZ standby needs the second)."

  validation {
    condition     = length(var.database_subnet_ids) >= 2 && alltrue([for id in var.database_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "database_subnet_ids must list at least two subnet ids (subnet-…)."
  }
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups whose members may open Postgres connections (port 5432); nothing else may connect."

  validation {
    condition     = length(var.client_security_group_ids) >= 1 && alltrue([for id in var.client_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "client_security_group_ids must list at least one security group id (sg-…)."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version: a major version (16; RDS picks the newest minor and upgrades minors) or major.minor (16.8)."
  default     = "17"

  validation {
    condition     = can(regex("^1[4-8](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL version from 14 to 18, written 17 or 17.5."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class, e.g. db.m7g.large."
  default     = "db.m7g.large"

  validation {
    condition     = can(regex("^db\\.[a-z0-9-]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must be an RDS instance class such as db.m7g.large."
  }
}

variable "allocated_storage_gib" {
  type        = number
  description = "Initial gp3 storage in GiB."
  default     = 50

  validation {
    condition     = var.allocated_storage_gib >= 20 && var.allocated_storage_gib <= 65536 && floor(var.allocated_storage_gib) == var.allocated_storage_gib
    error_message = "allocated_storage_gib must be a whole number from 20 to 65536."
  }
}

variable "max_allocated_storage_gib" {
  type        = number
  description = "Ceiling for storage autoscaling in GiB (at least allocated_storage_gib; equal turns autoscaling off)."
  default     = 500

  validation {
    condition     = var.max_allocated_storage_gib >= var.allocated_storage_gib && var.max_allocated_storage_gib <= 65536 && floor(var.max_allocated_storage_gib) == var.max_allocated_storage_gib
    error_message = "max_allocated_storage_gib must be a whole number from allocated_storage_gib to 65536."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second zone with automatic failover (recommended for production; doubles the instance cost)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery (1-35; 0, which would turn backups off, is refused)."
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number from 1 to 35."
  }
}

variable "backup_window" {
  type        = string
  description = "Daily UTC window for automated backups, hh24:mi-hh24:mi (at least 30 minutes, not overlapping the maintenance window)."
  default     = "02:00-03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_window))
    error_message = "backup_window must look like 02:00-03:00 (UTC)."
  }
}

variable "maintenance_window" {
  type        = string
  description = "Weekly UTC maintenance window, ddd:hh24:mi-ddd:hh24:mi."
  default     = "sun:04:00-sun:05:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window))
    error_message = "maintenance_window must look like sun:04:00-sun:05:00 (UTC)."
  }
}

variable "database_name" {
  type        = string
  description = "Database created with the instance (the provisioner's admin database; customers' schemas go into the database the provisioner is configured with)."
  default     = "tallyhold_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be 1-63 lower-case letters, digits or underscores, starting with a letter."
  }
}

variable "master_username" {
  type        = string
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager; Terraform never sees it."
  default     = "tallyhold_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["postgres", "rdsadmin", "admin", "root"], var.master_username)
    error_message = "master_username must be 1-16 lower-case letters, digits or underscores, start with a letter, and not be a reserved name (postgres, rdsadmin, admin, root)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting storage, snapshots, Performance Insights and the master password secret."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the Postgres log groups."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days the exported Postgres logs are kept; a CloudWatch retention value of at least one year."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
