terraform {
  # 1.9: validation blocks may refer to other variables; 1.7: `terraform test` mock providers.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 6.0.0"
    }
  }

  # State holds resource ids and the platform's layout (never a password: RDS keeps the master password in
  # Secrets Manager). Create the state bucket first, then:
  #   terraform init -backend-config="bucket=…" -backend-config="key=tallyhold/aws-platform.tfstate" \
  #                  -backend-config="region=…" -backend-config="use_lockfile=true" -backend-config="encrypt=true"
  backend "s3" {}
}
