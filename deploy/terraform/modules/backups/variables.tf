variable "bucket_name" {
  type        = string
  description = "Name of the backup bucket (globally unique; 3-63 lower-case letters, digits, hyphens and dots)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^[0-9.]+$|^xn--|-s3alias$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lower-case letters, digits, hyphens or dots, no '..', not an IP address."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key every backup object is encrypted with (SSE-KMS); uploads naming another key are refused."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "archive_after_days" {
  type        = number
  description = "Days after which a backup moves to Glacier Instant Retrieval (cheaper storage, same access time)."
  default     = 30

  validation {
    condition     = var.archive_after_days >= 30 && floor(var.archive_after_days) == var.archive_after_days
    error_message = "archive_after_days must be a whole number of at least 30 (S3's minimum before a Glacier transition of this kind)."
  }
}

variable "expire_after_days" {
  type        = number
  description = "Days after which a backup is deleted (its version is then kept noncurrent_version_days longer)."
  default     = 365

  validation {
    condition     = var.expire_after_days > var.archive_after_days && var.expire_after_days <= 3650 && floor(var.expire_after_days) == var.expire_after_days
    error_message = "expire_after_days must be a whole number greater than archive_after_days and at most 3650."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days an overwritten or deleted backup's old version is kept before it is removed for good."
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && var.noncurrent_version_days <= 3650 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number from 1 to 3650."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
