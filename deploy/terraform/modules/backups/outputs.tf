output "bucket_name" {
  description = "Name of the backup bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = aws_s3_bucket.this.arn
}

output "writer_policy_json" {
  description = "IAM policy for a backup job's role: write, read and list backups in this bucket and use its key for that, nothing else (no delete: old backups go by the lifecycle rule)."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListBackups"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = aws_s3_bucket.this.arn
      },
      {
        Sid      = "WriteAndReadBackups"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject"]
        Resource = "${aws_s3_bucket.this.arn}/*"
      },
      {
        Sid      = "UseBackupKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.kms_key_arn
      },
    ]
  })
}
