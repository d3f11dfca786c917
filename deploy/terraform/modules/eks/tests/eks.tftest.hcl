# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-central-1:123456789012:cluster/th-test"
      endpoint              = "https://0123456789ABCDEF.gr7.eu-central-1.eks.amazonaws.com"
      certificate_authority = [{ data = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" }]
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
}

variables {
  cluster_name           = "th-test"
  kubernetes_version     = "1.33"
  private_subnet_ids     = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  admin_principal_arns   = ["arn:aws:iam::123456789012:role/platform-admin"]
  secrets_kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000001"
  logs_kms_key_arn       = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000002"
  openbao_unseal_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000003"
}

run "least_privilege_private_encrypted_logged" {
  command = plan

  assert {
    condition     = length(jsondecode(aws_iam_role_policy.openbao_unseal.policy).Statement) == 1
    error_message = "The OpenBao role has exactly one statement."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.openbao_unseal.policy).Statement[0].Action == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
    error_message = "The OpenBao role may only call kms:Encrypt, kms:Decrypt and kms:DescribeKey."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.openbao_unseal.policy).Statement[0].Resource == var.openbao_unseal_key_arn
    error_message = "The OpenBao role may use the unseal key and no other resource."
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.openbao_unseal.policy).Statement[0].Condition.StringEquals == {
      "aws:PrincipalTag/eks-cluster-name"           = "th-test"
      "aws:PrincipalTag/kubernetes-namespace"       = "openbao"
      "aws:PrincipalTag/kubernetes-service-account" = "openbao"
    }
    error_message = "The OpenBao policy requires the Pod Identity session tags of this cluster, namespace and ServiceAccount."
  }
  assert {
    condition     = aws_eks_pod_identity_association.openbao.namespace == "openbao" && aws_eks_pod_identity_association.openbao.service_account == "openbao"
    error_message = "The role is associated with the OpenBao ServiceAccount only."
  }
  assert {
    condition     = jsondecode(aws_iam_role.openbao.assume_role_policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == "arn:aws:eks:eu-central-1:123456789012:cluster/th-test"
    error_message = "Only this cluster's Pod Identity may assume the OpenBao role."
  }
  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access == false && aws_eks_cluster.this.vpc_config[0].endpoint_private_access == true
    error_message = "With no public_access_cidrs the API endpoint is private only."
  }
  assert {
    condition     = aws_eks_cluster.this.encryption_config[0].provider[0].key_arn == var.secrets_kms_key_arn && aws_eks_cluster.this.encryption_config[0].resources == toset(["secrets"])
    error_message = "Kubernetes Secrets are envelope-encrypted with the given key."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.cluster_secrets_encryption.policy).Statement[0].Resource == var.secrets_kms_key_arn
    error_message = "The control plane may use the secrets key only."
  }
  assert {
    condition     = length(aws_eks_cluster.this.enabled_cluster_log_types) == 5 && aws_cloudwatch_log_group.cluster.kms_key_id == var.logs_kms_key_arn
    error_message = "All five control plane logs go to an encrypted log group."
  }
  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API" && aws_eks_cluster.this.access_config[0].bootstrap_cluster_creator_admin_permissions == false
    error_message = "Access is by access entries only; whoever runs Terraform gets no implicit admin."
  }
  assert {
    condition     = toset(keys(aws_eks_access_policy_association.admin)) == toset(var.admin_principal_arns)
    error_message = "Exactly the listed principals are cluster admins."
  }
  assert {
    condition     = output.cluster_endpoint == "https://0123456789ABCDEF.gr7.eu-central-1.eks.amazonaws.com" && output.cluster_name == "th-test"
    error_message = "The cluster's name and endpoint are outputs."
  }
  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "Nodes answer IMDSv2 only, with a hop limit pods cannot reach."
  }
  assert {
    condition     = aws_launch_template.node.block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "Node root volumes are encrypted."
  }
  assert {
    condition     = toset([for a in aws_iam_role_policy_attachment.node : a.policy_arn]) == toset(["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"])
    error_message = "The node role can join the cluster and pull images, nothing more (the CNI has its own role)."
  }
  assert {
    condition     = [for a in aws_eks_addon.vpc_cni.pod_identity_association : a.service_account] == ["aws-node"]
    error_message = "The VPC CNI gets its permissions through its own ServiceAccount's role."
  }
  assert {
    condition     = aws_eks_node_group.this.scaling_config[0].min_size == 3
    error_message = "At least three nodes, for OpenBao's three replicas."
  }
}

run "public_endpoint_only_for_listed_networks" {
  command = plan
  variables {
    public_access_cidrs = ["198.51.100.0/24"]
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access && aws_eks_cluster.this.vpc_config[0].public_access_cidrs == toset(["198.51.100.0/24"])
    error_message = "Listing networks opens the public endpoint to those networks only."
  }
}

# Each variable gets a value that breaks exactly one of its validation blocks. A variable whose validation
# refers to another one is not checked when that other one fails, so those go into runs of their own.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    cluster_name            = "Tallyhold"
    kubernetes_version      = "1.33.1"
    private_subnet_ids      = ["subnet-0aaaaaaaaaaaaaaa1"]
    public_access_cidrs     = ["0.0.0.0/0"]
    admin_principal_arns    = []
    secrets_kms_key_arn     = "11111111-0000-0000-0000-000000000001"
    logs_kms_key_arn        = "alias/logs"
    log_retention_days      = 7
    node_instance_types     = []
    node_min_size           = 2
    node_disk_size_gib      = 10
    openbao_unseal_key_arn  = "arn:aws:s3:::bucket"
    openbao_namespace       = "open_bao"
    openbao_service_account = "OpenBao"
  }
  expect_failures = [
    var.cluster_name, var.kubernetes_version, var.private_subnet_ids, var.public_access_cidrs,
    var.admin_principal_arns, var.secrets_kms_key_arn, var.logs_kms_key_arn, var.log_retention_days,
    var.node_instance_types, var.node_min_size, var.node_disk_size_gib, var.openbao_unseal_key_arn,
    var.openbao_namespace, var.openbao_service_account,
  ]
}

run "validations_refuse_desired_above_max" {
  command = plan
  variables {
    node_desired_size = 7
  }
  expect_failures = [var.node_desired_size]
}

run "validations_refuse_max_below_min" {
  command = plan
  variables {
    node_min_size     = 4
    node_desired_size = 4
    node_max_size     = 3
  }
  expect_failures = [var.node_max_size]
}
