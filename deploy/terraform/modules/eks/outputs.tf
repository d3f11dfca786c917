output "cluster_name" {
  description = "Name of the EKS cluster (for `aws eks update-kubeconfig --name`)."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 PEM of the cluster's certificate authority, for kubeconfig."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS attaches to the control plane and the managed nodes; the database admits Postgres from it."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "node_role_arn" {
  description = "IAM role of the managed nodes (join the cluster, pull images; nothing else)."
  value       = aws_iam_role.node.arn
}

output "openbao_role_arn" {
  description = "IAM role the OpenBao ServiceAccount gets through Pod Identity: kms:Encrypt, kms:Decrypt and kms:DescribeKey on the unseal key only."
  value       = aws_iam_role.openbao.arn
}

output "openbao_namespace" {
  description = "Namespace the OpenBao role is associated with."
  value       = aws_eks_pod_identity_association.openbao.namespace
}

output "openbao_service_account" {
  description = "ServiceAccount the OpenBao role is associated with."
  value       = aws_eks_pod_identity_association.openbao.service_account
}
