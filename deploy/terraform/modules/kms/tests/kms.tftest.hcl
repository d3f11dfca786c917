# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-central-1" }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
}

variables {
  name_prefix = "th-test"
}

run "every_key_rotates_and_has_an_alias" {
  command = plan

  assert {
    condition     = toset(keys(aws_kms_key.this)) == toset(["openbao-unseal", "rds", "backups", "eks-secrets", "logs"])
    error_message = "One key per purpose: OpenBao unseal, RDS, backups, EKS secrets, logs."
  }
  assert {
    condition     = alltrue([for key in aws_kms_key.this : key.enable_key_rotation && key.rotation_period_in_days == 365 && key.deletion_window_in_days == 30])
    error_message = "Every key rotates yearly and waits 30 days before deletion."
  }
  assert {
    condition     = aws_kms_alias.this["openbao-unseal"].name == "alias/th-test-openbao-unseal"
    error_message = "Aliases are named after the prefix and the purpose."
  }
  assert {
    condition     = output.openbao_unseal_key_id == "11111111-2222-3333-4444-555555555555"
    error_message = "The unseal key id is an output (the awskms seal's kms_key_id)."
  }

  assert {
    condition     = length(jsondecode(aws_kms_key.this["logs"].policy).Statement) == 2 && jsondecode(aws_kms_key.this["logs"].policy).Statement[1].Principal.Service == "logs.eu-central-1.amazonaws.com"
    error_message = "The logs key lets CloudWatch Logs of this region use it."
  }
  assert {
    condition     = jsondecode(aws_kms_key.this["logs"].policy).Statement[1].Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"] == "arn:aws:logs:eu-central-1:123456789012:log-group:*"
    error_message = "CloudWatch Logs may use the key only for this account's log groups."
  }
  assert {
    condition     = alltrue([for purpose, key in aws_kms_key.this : purpose == "logs" || length(jsondecode(key.policy).Statement) == 1])
    error_message = "The other keys' policies hold only the account statement."
  }
  assert {
    condition     = jsondecode(aws_kms_key.this["openbao-unseal"].policy).Statement[0].Principal.AWS == "arn:aws:iam::123456789012:root"
    error_message = "The account statement names this account's root (IAM decides who uses the key)."
  }
}

# One run per validation block index: each variable gets a value that breaks exactly that block.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    name_prefix             = "Tallyhold"
    deletion_window_in_days = 6
    rotation_period_in_days = 89
  }
  expect_failures = [var.name_prefix, var.deletion_window_in_days, var.rotation_period_in_days]
}
