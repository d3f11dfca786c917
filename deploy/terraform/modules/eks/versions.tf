terraform {
  # 1.9: validation blocks may refer to other variables; 1.7: `terraform test` mock providers.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 6.0.0"
    }
  }
}
