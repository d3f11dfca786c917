# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "th-test-backups"
      arn = "arn:aws:s3:::th-test-backups"
    }
  }
}

variables {
  bucket_name = "th-test-backups"
  kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000001"
}

run "encrypted_versioned_private_tls_only_expiring" {
  command = plan

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning is on."
  }
  assert {
    condition = [for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : [
      for d in r.apply_server_side_encryption_by_default : "${d.sse_algorithm} ${d.kms_master_key_id}"
    ]] == [["aws:kms ${var.kms_key_arn}"]]
    error_message = "Objects are encrypted with SSE-KMS under the given key."
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every kind of public access is blocked."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs are disabled."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Effect == "Deny" && jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "Requests without TLS are denied."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[1].Condition.NumericLessThan["s3:TlsVersion"] == "1.2"
    error_message = "Requests over TLS older than 1.2 are denied."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[2].Condition.StringNotEqualsIfExists["s3:x-amz-server-side-encryption-aws-kms-key-id"] == var.kms_key_arn
    error_message = "Uploads naming another KMS key are denied."
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(output.writer_policy_json).Statement : s.Action]), "s3:DeleteObject")
    error_message = "The backup writer cannot delete backups."
  }
  assert {
    condition     = [for t in aws_s3_bucket_lifecycle_configuration.this.rule[0].transition : "${t.storage_class} after ${t.days}"] == ["GLACIER_IR after 30"]
    error_message = "Backups move to Glacier Instant Retrieval after 30 days."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration[0].days == 365 && aws_s3_bucket_lifecycle_configuration.this.rule[0].noncurrent_version_expiration[0].noncurrent_days == 30
    error_message = "Backups expire after a year; old versions 30 days later."
  }
}

# Each variable gets a value that breaks exactly one of its validation blocks. A variable whose validation
# refers to another one is not checked when that other one fails, so it gets a run of its own.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    bucket_name             = "Tallyhold-Backups"
    kms_key_arn             = "alias/backups"
    archive_after_days      = 7
    noncurrent_version_days = 0
  }
  expect_failures = [var.bucket_name, var.kms_key_arn, var.archive_after_days, var.noncurrent_version_days]
}

run "validations_refuse_expiry_before_archive" {
  command = plan
  variables {
    archive_after_days = 90
    expire_after_days  = 60
  }
  expect_failures = [var.expire_after_days]
}
