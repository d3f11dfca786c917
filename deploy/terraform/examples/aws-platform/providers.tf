provider "aws" {
  region = var.region
  # A plan run with credentials of any other account stops before it changes anything.
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = {
      Project   = "tallyhold"
      Stack     = var.name
      ManagedBy = "terraform"
    }
  }
}
