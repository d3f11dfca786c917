# Plan-only test of the whole platform with a mocked AWS provider: no credentials, nothing created. The mocked
# ids are shaped like real ones so the modules' own validations accept what one module hands the next.

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
  mock_resource "aws_eip" {
    defaults = {
      allocation_id = "eipalloc-0aaaaaaaaaaaaaaa0"
      public_ip     = "203.0.113.10"
    }
  }
  mock_resource "aws_vpc" {
    defaults = { id = "vpc-0aaaaaaaaaaaaaaa1" }
  }
  mock_resource "aws_subnet" {
    defaults = { id = "subnet-0aaaaaaaaaaaaaaa1" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-central-1:123456789012:cluster/th-prod"
      endpoint              = "https://0123456789ABCDEF.gr7.eu-central-1.eks.amazonaws.com"
      certificate_authority = [{ data = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" }]
      vpc_config            = { cluster_security_group_id = "sg-0aaaaaaaaaaaaaaa1" }
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      address            = "th-prod.abcdefghijkl.eu-central-1.rds.amazonaws.com"
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-1234", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "th-prod-backups"
      arn = "arn:aws:s3:::th-prod-backups"
    }
  }
}

variables {
  name               = "th-prod"
  account_id         = "123456789012"
  region             = "eu-central-1"
  availability_zones = ["eu-central-1a", "eu-central-1b"]
  cluster_admin_arns = ["arn:aws:iam::123456789012:role/platform-admin"]
  backup_bucket_name = "th-prod-backups"
}

run "egress_ips_cluster_database_and_values" {
  command = plan

  override_resource {
    target          = module.egress_ips.aws_eip.egress[1]
    override_during = plan
    values = {
      allocation_id = "eipalloc-0aaaaaaaaaaaaaaa1"
      public_ip     = "198.51.100.7"
    }
  }

  assert {
    condition     = output.egress_ips == ["203.0.113.10", "198.51.100.7"]
    error_message = "egress_ips are the Elastic IPs, one per zone."
  }
  assert {
    condition     = output.provisioner_environment.TALLYHOLD_EGRESS_IPS == "203.0.113.10,198.51.100.7"
    error_message = "Instances get the egress IPs as TALLYHOLD_EGRESS_IPS (comma-separated)."
  }
  assert {
    condition     = yamldecode(output.tallyhold_values).env.TALLYHOLD_EGRESS_IPS == "203.0.113.10,198.51.100.7" && yamldecode(output.tallyhold_values).egressIps == ["203.0.113.10", "198.51.100.7"]
    error_message = "The chart's platform values carry the egress IPs."
  }
  assert {
    condition     = length(module.network.nat_gateway_ids) == 2
    error_message = "One NAT gateway per zone."
  }
  assert {
    condition     = output.cluster_name == "th-prod" && output.cluster_endpoint == "https://0123456789ABCDEF.gr7.eu-central-1.eks.amazonaws.com"
    error_message = "The cluster's name and endpoint are outputs."
  }
  assert {
    condition     = output.database_address == "th-prod.abcdefghijkl.eu-central-1.rds.amazonaws.com" && output.database_port == 5432
    error_message = "The database endpoint is an output."
  }
  assert {
    condition     = output.provisioner_environment.TALLYHOLD_PROVISIONER_INSTANCE_DATABASE_HOST == output.database_address
    error_message = "The provisioner points instances at the database endpoint."
  }
  assert {
    condition     = yamldecode(output.tallyhold_values).database == { host = "th-prod.abcdefghijkl.eu-central-1.rds.amazonaws.com", port = 5432, sslMode = "verify-full" }
    error_message = "The chart's platform values carry the database endpoint and require verified TLS."
  }
  assert {
    condition     = strcontains(yamldecode(output.openbao_values).server.ha.raft.config, "kms_key_id = \"11111111-2222-3333-4444-555555555555\"") && strcontains(yamldecode(output.openbao_values).server.ha.raft.config, "region     = \"eu-central-1\"")
    error_message = "OpenBao's awskms seal names the unseal key and the region."
  }
  assert {
    condition     = yamldecode(output.openbao_values).server.serviceAccount.name == "openbao" && yamldecode(output.openbao_values).server.ha.replicas == 3
    error_message = "OpenBao runs three replicas under the ServiceAccount the unseal role is associated with."
  }
  assert {
    condition = [for line in split("\n", yamldecode(output.openbao_values).server.ha.raft.config) : trimspace(line) if strcontains(line, "leader_api_addr")] == [
      "leader_api_addr     = \"https://openbao-0.openbao-internal:8200\"",
      "leader_api_addr     = \"https://openbao-1.openbao-internal:8200\"",
      "leader_api_addr     = \"https://openbao-2.openbao-internal:8200\"",
    ]
    error_message = "Each replica joins the Raft cluster through every replica's address."
  }
  assert {
    condition     = yamldecode(output.prometheus_values).prometheus.prometheusSpec.externalLabels == { cluster = "th-prod", region = "eu-central-1" }
    error_message = "Prometheus labels its series with the cluster and region."
  }
  assert {
    condition     = output.openbao_role_arn == "arn:aws:iam::123456789012:role/mock"
    error_message = "The OpenBao role is an output."
  }
}

# Each variable gets a value that breaks exactly one of its validation blocks. A variable whose validation
# refers to another one is not checked when that other one fails, so those go into runs of their own.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    name                        = "Tallyhold"
    account_id                  = "12345678901"
    vpc_cidr                    = "10.40.0.0"
    kubernetes_version          = "1.33.2"
    cluster_admin_arns          = []
    cluster_public_access_cidrs = ["0.0.0.0/0"]
    database_instance_class     = "m7g.large"
    backup_bucket_name          = "th_prod_backups"
    openbao_replicas            = 4
  }
  expect_failures = [
    var.name, var.account_id, var.vpc_cidr, var.kubernetes_version, var.cluster_admin_arns,
    var.cluster_public_access_cidrs, var.database_instance_class, var.backup_bucket_name, var.openbao_replicas,
  ]
}

run "validations_refuse_a_zone_as_region_and_one_zone" {
  command = plan
  variables {
    region             = "eu-central-1a"
    availability_zones = ["eu-central-1a"]
  }
  expect_failures = [var.region]
}

run "validations_refuse_one_zone" {
  command = plan
  variables {
    availability_zones = ["eu-central-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "validations_refuse_another_regions_zone" {
  command = plan
  variables {
    availability_zones = ["eu-central-1a", "eu-west-1b"]
  }
  expect_failures = [var.availability_zones]
}
