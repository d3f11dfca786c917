# The egress IPs customers put on their exchange API keys' allowlists. They are allocated here, apart from the
# network, and only their allocation ids go into the network module: replacing the VPC or its NAT gateways
# re-attaches the same addresses, so no customer has to edit an allowlist after a rebuild. prevent_destroy makes
# Terraform refuse any plan that would release one; remove it deliberately if an address really must go.

resource "aws_eip" "egress" {
  # checkov:skip=CKV2_AWS_19:These addresses are attached to the network module's NAT gateways by allocation id, not to EC2 instances.
  count = var.ip_count

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name_prefix}-egress-${count.index}", Purpose = "tallyhold-egress" })

  lifecycle {
    prevent_destroy = true
  }
}
