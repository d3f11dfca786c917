# The AWS platform of the kubernetes backend, composed from the modules. The egress IPs are their own module:
# the network gets only their allocation ids, so rebuilding it keeps the addresses customers allowlisted.

module "kms" {
  source      = "../../modules/kms"
  name_prefix = var.name
}

module "egress_ips" {
  source      = "../../modules/egress-ips"
  name_prefix = var.name
  ip_count    = length(var.availability_zones)
}

module "network" {
  source                 = "../../modules/network"
  name_prefix            = var.name
  vpc_cidr               = var.vpc_cidr
  availability_zones     = var.availability_zones
  nat_eip_allocation_ids = module.egress_ips.allocation_ids
  cluster_name           = var.name
  logs_kms_key_arn       = module.kms.logs_key_arn
}

module "eks" {
  source                 = "../../modules/eks"
  cluster_name           = var.name
  kubernetes_version     = var.kubernetes_version
  private_subnet_ids     = module.network.private_subnet_ids
  public_access_cidrs    = var.cluster_public_access_cidrs
  admin_principal_arns   = var.cluster_admin_arns
  secrets_kms_key_arn    = module.kms.eks_secrets_key_arn
  logs_kms_key_arn       = module.kms.logs_key_arn
  openbao_unseal_key_arn = module.kms.openbao_unseal_key_arn
}

module "database" {
  source                    = "../../modules/database"
  identifier                = var.name
  vpc_id                    = module.network.vpc_id
  database_subnet_ids       = module.network.database_subnet_ids
  client_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class            = var.database_instance_class
  multi_az                  = var.database_multi_az
  kms_key_arn               = module.kms.rds_key_arn
  logs_kms_key_arn          = module.kms.logs_key_arn
}

module "backups" {
  source      = "../../modules/backups"
  bucket_name = var.backup_bucket_name
  kms_key_arn = module.kms.backups_key_arn
}

# Every EBS volume created in this region from now on is encrypted (the nodes' disks already are, by their
# launch template; this covers the volumes OpenBao's Raft storage and Prometheus claim through the CSI driver).
resource "aws_ebs_encryption_by_default" "this" {
  enabled = true
}
