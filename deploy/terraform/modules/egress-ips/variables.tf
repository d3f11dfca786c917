variable "name_prefix" {
  type        = string
  description = "Prefix of the Elastic IPs' Name tags (lower-case letters, digits and hyphens; starts with a letter)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "ip_count" {
  type        = number
  description = "How many egress IPs to allocate: one per availability zone of the network (one NAT gateway each)."

  validation {
    condition     = var.ip_count >= 2 && var.ip_count <= 6 && floor(var.ip_count) == var.ip_count
    error_message = "ip_count must be a whole number from 2 to 6 (one per availability zone, at least two zones)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every Elastic IP."
  default     = {}
}
