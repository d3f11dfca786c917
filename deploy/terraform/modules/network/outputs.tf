output "vpc_id" {
  description = "Id of the VPC the subnets are in."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways, internet-facing load balancers), in zone order."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets for the EKS nodes and pods, in zone order; their traffic leaves through the NAT gateways."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Database subnets without any route out of the VPC, in zone order."
  value       = aws_subnet.database[*].id
}

output "private_subnet_cidrs" {
  description = "IPv4 blocks of the private subnets (where pods get their addresses)."
  value       = aws_subnet.private[*].cidr_block
}

output "nat_gateway_ids" {
  description = "NAT gateways, one per zone, in zone order."
  value       = aws_nat_gateway.this[*].id
}

output "egress_ips" {
  description = "Public IPs the private subnets' traffic leaves from (the NAT gateways' Elastic IPs), in zone order."
  value       = aws_nat_gateway.this[*].public_ip
}
