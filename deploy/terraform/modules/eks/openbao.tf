# The OpenBao server pods' AWS identity: it can use the unseal key to wrap and unwrap OpenBao's root key
# (Encrypt, Decrypt) and read its metadata (DescribeKey), and nothing else in the account. Besides the Pod
# Identity association, the policy requires the session tags EKS puts on the pods' credentials, so the role is
# useless to any other namespace or ServiceAccount even if someone associated it there.

resource "aws_iam_role" "openbao" {
  name               = "${var.cluster_name}-openbao-unseal"
  assume_role_policy = local.pod_identity_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "openbao_unseal" {
  name = "openbao-kms-unseal"
  role = aws_iam_role.openbao.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "UnsealKeyOnly"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
      Resource = var.openbao_unseal_key_arn
      Condition = {
        StringEquals = {
          "aws:PrincipalTag/eks-cluster-name"           = aws_eks_cluster.this.name
          "aws:PrincipalTag/kubernetes-namespace"       = var.openbao_namespace
          "aws:PrincipalTag/kubernetes-service-account" = var.openbao_service_account
        }
      }
    }]
  })
}

resource "aws_eks_pod_identity_association" "openbao" {
  cluster_name    = aws_eks_cluster.this.name
  namespace       = var.openbao_namespace
  service_account = var.openbao_service_account
  role_arn        = aws_iam_role.openbao.arn
  tags            = var.tags
}
