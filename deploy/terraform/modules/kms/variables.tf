variable "name_prefix" {
  type        = string
  description = "Prefix of every name and alias this module creates (lower-case letters, digits and hyphens; starts with a letter)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "deletion_window_in_days" {
  type        = number
  description = "Days a scheduled key deletion waits before the key is gone (AWS allows 7-30). Long by default: deleting the unseal key makes OpenBao unrecoverable."
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "rotation_period_in_days" {
  type        = number
  description = "Days between automatic rotations of every key's backing material (AWS allows 90-2560). Old material stays available for decryption."
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560 && floor(var.rotation_period_in_days) == var.rotation_period_in_days
    error_message = "rotation_period_in_days must be a whole number from 90 to 2560."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every key."
  default     = {}
}
