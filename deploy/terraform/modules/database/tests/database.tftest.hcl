# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      address            = "th-test.abcdefghijkl.eu-central-1.rds.amazonaws.com"
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-1234", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
}

variables {
  identifier                = "th-test"
  vpc_id                    = "vpc-0aaaaaaaaaaaaaaa1"
  database_subnet_ids       = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  client_security_group_ids = ["sg-0aaaaaaaaaaaaaaa1"]
  kms_key_arn               = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000001"
  logs_kms_key_arn          = "arn:aws:kms:eu-central-1:123456789012:key/11111111-0000-0000-0000-000000000002"
}

run "encrypted_protected_backed_up_tls_only" {
  command = plan

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn && aws_db_instance.this.performance_insights_kms_key_id == var.kms_key_arn
    error_message = "Storage and Performance Insights are encrypted with the given key."
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.backup_retention_period == 14
    error_message = "Deletion protection on, a final snapshot, 14 days of automated backups."
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.master_user_secret_kms_key_id == var.kms_key_arn && aws_db_instance.this.password == null
    error_message = "RDS manages the master password in Secrets Manager; Terraform never holds one."
  }
  assert {
    condition     = aws_db_instance.this.multi_az && !aws_db_instance.this.publicly_accessible
    error_message = "Multi-AZ by default, never publicly accessible."
  }
  assert {
    condition     = output.address == "th-test.abcdefghijkl.eu-central-1.rds.amazonaws.com" && output.port == 5432
    error_message = "The endpoint's address and port are outputs."
  }
  assert {
    condition     = output.master_user_secret_arn == "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-1234"
    error_message = "The master password's secret ARN is an output."
  }
  assert {
    condition     = aws_db_parameter_group.this.family == "postgres17"
    error_message = "The parameter group's family follows the engine's major version."
  }
  assert {
    condition     = contains([for p in aws_db_parameter_group.this.parameter : "${p.name}=${p.value}"], "rds.force_ssl=1")
    error_message = "rds.force_ssl = 1: connections without TLS are refused."
  }
  assert {
    condition     = contains([for p in aws_db_parameter_group.this.parameter : "${p.name}=${p.value}"], "ssl_min_protocol_version=TLSv1.2")
    error_message = "TLS older than 1.2 is refused."
  }
  assert {
    condition     = contains([for p in aws_db_parameter_group.this.parameter : "${p.name}=${p.value}"], "log_statement=none")
    error_message = "Statement logging stays off (it would log the role passwords the provisioner sets)."
  }
}

run "two_client_groups_single_az_postgres16" {
  command = plan
  variables {
    client_security_group_ids = ["sg-0aaaaaaaaaaaaaaa1", "sg-0aaaaaaaaaaaaaaa2"]
    multi_az                  = false
    engine_version            = "16.8"
  }

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.postgres : r.referenced_security_group_id]) == toset(var.client_security_group_ids)
    error_message = "One ingress rule per client security group."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.postgres : r.from_port == 5432 && r.to_port == 5432 && r.ip_protocol == "tcp" && r.cidr_ipv4 == null])
    error_message = "Ingress is TCP 5432 from the groups only, never from an address range."
  }
  assert {
    condition     = !aws_db_instance.this.multi_az && aws_db_parameter_group.this.family == "postgres16"
    error_message = "multi_az = false runs a single instance; 16.8 selects the postgres16 family."
  }
}

# Each variable gets a value that breaks exactly one of its validation blocks. A variable whose validation
# refers to another one is not checked when that other one fails, so it gets a run of its own.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    identifier                = "th--test"
    vpc_id                    = "subnet-0aaaaaaaaaaaaaaa1"
    database_subnet_ids       = ["subnet-0aaaaaaaaaaaaaaa1"]
    client_security_group_ids = []
    engine_version            = "13.20"
    instance_class            = "m7g.large"
    allocated_storage_gib     = 10
    backup_retention_days     = 0
    backup_window             = "02:00"
    maintenance_window        = "04:00-05:00"
    database_name             = "tallyhold-admin"
    master_username           = "postgres"
    kms_key_arn               = "alias/rds"
    logs_kms_key_arn          = "alias/logs"
    log_retention_days        = 30
  }
  expect_failures = [
    var.identifier, var.vpc_id, var.database_subnet_ids, var.client_security_group_ids, var.engine_version,
    var.instance_class, var.allocated_storage_gib, var.backup_retention_days, var.backup_window,
    var.maintenance_window, var.database_name, var.master_username, var.kms_key_arn, var.logs_kms_key_arn,
    var.log_retention_days,
  ]
}

run "validations_refuse_max_storage_below_allocated" {
  command = plan
  variables {
    allocated_storage_gib     = 100
    max_allocated_storage_gib = 50
  }
  expect_failures = [var.max_allocated_storage_gib]
}
