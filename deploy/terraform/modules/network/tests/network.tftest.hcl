# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_resource "aws_nat_gateway" {
    defaults = { public_ip = "203.0.113.10" }
  }
}

variables {
  name_prefix            = "th-test"
  vpc_cidr               = "10.40.0.0/16"
  availability_zones     = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  nat_eip_allocation_ids = ["eipalloc-0aaaaaaaaaaaaaaa1", "eipalloc-0aaaaaaaaaaaaaaa2", "eipalloc-0aaaaaaaaaaaaaaa3"]
  cluster_name           = "th-test"
  logs_kms_key_arn       = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "layout_egress_and_isolation" {
  command = plan

  # A second NAT address, and distinct route table ids so the assertions can tell which table a route uses.
  override_resource {
    target          = aws_nat_gateway.this[1]
    override_during = plan
    values          = { public_ip = "203.0.113.11" }
  }
  override_resource {
    target          = aws_route_table.public
    override_during = plan
    values          = { id = "rtb-0000000000000public" }
  }
  override_resource {
    target          = aws_route_table.database
    override_during = plan
    values          = { id = "rtb-00000000000database" }
  }
  override_resource {
    target          = aws_route_table.private
    override_during = plan
    values          = { id = "rtb-000000000000private" }
  }

  assert {
    condition     = [for s in aws_subnet.private : s.cidr_block] == ["10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19"]
    error_message = "Private subnets take the first eighths of the VPC, one per zone."
  }
  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.40.192.0/22", "10.40.196.0/22", "10.40.200.0/22"]
    error_message = "Public subnets are cut from the seventh eighth."
  }
  assert {
    condition     = [for s in aws_subnet.database : s.cidr_block] == ["10.40.224.0/22", "10.40.228.0/22", "10.40.232.0/22"]
    error_message = "Database subnets are cut from the eighth eighth."
  }
  assert {
    condition     = tolist([for s in aws_subnet.private : s.availability_zone]) == var.availability_zones
    error_message = "Subnets are spread over the zones in order."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Nothing launched in a public subnet gets a public IP."
  }
  assert {
    condition     = tolist([for nat in aws_nat_gateway.this : nat.allocation_id]) == var.nat_eip_allocation_ids
    error_message = "Each zone's NAT gateway sits on the Elastic IP given for that zone."
  }
  assert {
    condition     = output.egress_ips == ["203.0.113.10", "203.0.113.11", "203.0.113.10"]
    error_message = "egress_ips are the NAT gateways' public IPs in zone order."
  }
  assert {
    condition     = length(aws_route.private_egress) == 3 && alltrue([for r in aws_route.private_egress : r.destination_cidr_block == "0.0.0.0/0"])
    error_message = "Every private route table sends internet traffic to its zone's NAT gateway."
  }
  assert {
    condition     = alltrue([for a in aws_route_table_association.database : a.route_table_id == aws_route_table.database.id]) && aws_route.public_internet.route_table_id == "rtb-0000000000000public" && alltrue([for r in aws_route.private_egress : r.route_table_id == "rtb-000000000000private"])
    error_message = "Database subnets use their own route table, and the only internet route is the public table's."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group has no rules."
  }
  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_cloudwatch_log_group.flow_logs.kms_key_id == var.logs_kms_key_arn && aws_cloudwatch_log_group.flow_logs.retention_in_days == 365
    error_message = "All traffic is logged to an encrypted log group kept a year."
  }
}

# Each variable gets a value that breaks exactly one of its validation blocks. A variable whose validation
# refers to another one is not checked when that other one fails, so those go into runs of their own.
run "validations_refuse_bad_values" {
  command = plan
  variables {
    name_prefix             = "tally_hold"
    vpc_cidr                = "10.40.0.0/24"
    cluster_name            = "1cluster"
    logs_kms_key_arn        = "alias/th-test-logs"
    flow_log_retention_days = 30
  }
  expect_failures = [var.name_prefix, var.vpc_cidr, var.cluster_name, var.logs_kms_key_arn, var.flow_log_retention_days]
}

run "validations_refuse_a_host_address_and_one_zone" {
  command = plan
  variables {
    vpc_cidr               = "10.40.1.0/16"
    availability_zones     = ["eu-central-1a"]
    nat_eip_allocation_ids = ["eipalloc-0aaaaaaaaaaaaaaa1"]
  }
  expect_failures = [var.vpc_cidr, var.availability_zones]
}

run "validations_refuse_a_repeated_zone" {
  command = plan
  variables {
    availability_zones = ["eu-central-1a", "eu-central-1a", "eu-central-1b"]
  }
  expect_failures = [var.availability_zones]
}

run "validations_refuse_a_region_name_as_zone" {
  command = plan
  variables {
    availability_zones = ["eu-central-1", "eu-central-1a", "eu-central-1b"]
  }
  expect_failures = [var.availability_zones]
}

run "validations_refuse_one_nat_address_short" {
  command = plan
  variables {
    nat_eip_allocation_ids = ["eipalloc-0aaaaaaaaaaaaaaa1", "eipalloc-0aaaaaaaaaaaaaaa2"]
  }
  expect_failures = [var.nat_eip_allocation_ids]
}

run "validations_refuse_a_public_ip_as_allocation" {
  command = plan
  variables {
    nat_eip_allocation_ids = ["203.0.113.10", "eipalloc-0aaaaaaaaaaaaaaa2", "eipalloc-0aaaaaaaaaaaaaaa3"]
  }
  expect_failures = [var.nat_eip_allocation_ids]
}
