# Plan-only tests with a mocked AWS provider: no credentials, nothing created.

mock_provider "aws" {
  override_during = plan

  mock_resource "aws_eip" {
    defaults = {
      allocation_id = "eipalloc-0aaaaaaaaaaaaaaa0"
      public_ip     = "203.0.113.10"
    }
  }
}

variables {
  name_prefix = "th-test"
  ip_count    = 3
}

run "one_address_per_zone_in_order" {
  command = plan

  override_resource {
    target          = aws_eip.egress[1]
    override_during = plan
    values = {
      allocation_id = "eipalloc-0aaaaaaaaaaaaaaa1"
      public_ip     = "203.0.113.11"
    }
  }

  assert {
    condition     = output.public_ips == ["203.0.113.10", "203.0.113.11", "203.0.113.10"]
    error_message = "public_ips lists every address in allocation order."
  }
  assert {
    condition     = output.allocation_ids == ["eipalloc-0aaaaaaaaaaaaaaa0", "eipalloc-0aaaaaaaaaaaaaaa1", "eipalloc-0aaaaaaaaaaaaaaa0"]
    error_message = "allocation_ids lists every allocation in the same order."
  }
  assert {
    condition     = alltrue([for eip in aws_eip.egress : eip.domain == "vpc" && eip.tags.Purpose == "tallyhold-egress"])
    error_message = "Addresses are VPC-scoped and tagged as Tallyhold egress."
  }
}

run "validations_refuse_bad_values" {
  command = plan
  variables {
    name_prefix = "tallyhold-"
    ip_count    = 1
  }
  expect_failures = [var.name_prefix, var.ip_count]
}
