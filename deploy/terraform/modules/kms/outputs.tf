output "openbao_unseal_key_arn" {
  description = "ARN of the key OpenBao's awskms seal wraps its root key with."
  value       = aws_kms_key.this["openbao-unseal"].arn
}

output "openbao_unseal_key_id" {
  description = "Key id of the OpenBao unseal key (the awskms seal's kms_key_id)."
  value       = aws_kms_key.this["openbao-unseal"].key_id
}

output "rds_key_arn" {
  description = "ARN of the key encrypting RDS storage, snapshots, Performance Insights and the master password secret."
  value       = aws_kms_key.this["rds"].arn
}

output "backups_key_arn" {
  description = "ARN of the key encrypting the backup bucket's objects."
  value       = aws_kms_key.this["backups"].arn
}

output "eks_secrets_key_arn" {
  description = "ARN of the key EKS envelope-encrypts Kubernetes Secrets with."
  value       = aws_kms_key.this["eks-secrets"].arn
}

output "logs_key_arn" {
  description = "ARN of the key encrypting the CloudWatch log groups."
  value       = aws_kms_key.this["logs"].arn
}
