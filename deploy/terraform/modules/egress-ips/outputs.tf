output "allocation_ids" {
  description = "Allocation ids of the egress Elastic IPs, in order, for the network module's NAT gateways."
  value       = aws_eip.egress[*].allocation_id
}

output "public_ips" {
  description = "The egress IPs customers allowlist at their exchanges, in allocation order."
  value       = aws_eip.egress[*].public_ip
}
