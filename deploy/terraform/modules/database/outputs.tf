output "address" {
  description = "Host name of the Postgres endpoint (TALLYHOLD_PROVISIONER_INSTANCE_DATABASE_HOST; connect with sslmode=verify-full)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the Postgres endpoint."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database created with the instance (the provisioner's admin database)."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name (its password is in the Secrets Manager secret master_user_secret_arn)."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master password in (read it with the AWS CLI; it is not in the Terraform state)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database (ingress 5432 from the client security groups only)."
  value       = aws_security_group.this.id
}

output "instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}
