output "egress_ips" {
  description = "The egress IPs customers put on their exchange API keys' allowlists (one per zone; they survive a rebuild of the network)."
  value       = module.egress_ips.public_ips
}

output "provisioner_environment" {
  description = "Environment for tallyhold-provision: TALLYHOLD_EGRESS_IPS is passed through to every instance it creates or upgrades; the database host is where instances connect."
  value = {
    TALLYHOLD_EGRESS_IPS                         = join(",", module.egress_ips.public_ips)
    TALLYHOLD_PROVISIONER_INSTANCE_DATABASE_HOST = module.database.address
  }
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name …)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "database_address" {
  description = "Postgres host name (TLS only; sslmode=verify-full with the RDS CA bundle)."
  value       = module.database.address
}

output "database_port" {
  description = "Postgres port (5432)."
  value       = module.database.port
}

output "database_master_secret_arn" {
  description = "Secrets Manager secret holding the Postgres master password, managed and rotated by RDS."
  value       = module.database.master_user_secret_arn
}

output "backup_bucket" {
  description = "Name of the encrypted, versioned backup bucket."
  value       = module.backups.bucket_name
}

output "backup_writer_policy_json" {
  description = "IAM policy to give a backup job's role: put, get and list in the backup bucket with its key, no delete."
  value       = module.backups.writer_policy_json
}

output "openbao_role_arn" {
  description = "IAM role of the OpenBao pods (Pod Identity): kms:Encrypt, kms:Decrypt, kms:DescribeKey on the unseal key only."
  value       = module.eks.openbao_role_arn
}

output "openbao_values" {
  description = "Helm values for OpenBao HA with AWS KMS auto-unseal (terraform output -raw openbao_values)."
  value       = local.openbao_values
}

output "prometheus_values" {
  description = "Helm values for kube-prometheus-stack (terraform output -raw prometheus_values)."
  value       = local.prometheus_values
}

output "tallyhold_values" {
  description = "Platform values for every customer's Tallyhold release: egress IPs, database endpoint, OpenBao address (terraform output -raw tallyhold_values)."
  value       = local.tallyhold_values
}
