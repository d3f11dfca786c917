# One customer-managed key per purpose, so that a key policy, a grant or a deletion touches one use only.
# The key policies give the account's IAM the administration (the AWS default: who may use a key is then decided
# by IAM policies, which the other modules write narrowly); only CloudWatch Logs, which cannot hold an IAM
# identity, is named in a key policy, and only for this account's log groups.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"

  purposes = {
    openbao-unseal = "OpenBao auto-unseal: wraps OpenBao's root key (only the OpenBao pods' role may use it)"
    rds            = "RDS Postgres storage, snapshots, Performance Insights and the master password secret"
    backups        = "S3 backup objects (SSE-KMS)"
    eks-secrets    = "Envelope encryption of Kubernetes Secrets in the EKS control plane"
    logs           = "CloudWatch log groups (VPC flow logs, EKS control plane, RDS)"
  }

  account_statement = {
    Sid       = "AccountIamAdministersAndAuthorisesUse"
    Effect    = "Allow"
    Principal = { AWS = local.account_root }
    Action    = "kms:*"
    Resource  = "*"
  }

  logs_statement = {
    Sid       = "CloudWatchLogsForThisAccountsLogGroups"
    Effect    = "Allow"
    Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
    Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"
      }
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = local.purposes

  description             = "${var.name_prefix}: ${each.value}"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.account_statement], [for statement in [local.logs_statement] : statement if each.key == "logs"])
  })
  tags = merge(var.tags, { Name = "${var.name_prefix}-${each.key}", Purpose = each.key })
}

resource "aws_kms_alias" "this" {
  for_each = local.purposes

  name          = "alias/${var.name_prefix}-${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}
