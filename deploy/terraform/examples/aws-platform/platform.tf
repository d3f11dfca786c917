# Helm values of the in-cluster pieces, filled in from this platform's outputs. The helm and kubernetes providers
# are not used: the cluster is installed with the values these render (see the README), so a plan here never
# needs a reachable Kubernetes API.

locals {
  egress_ips = module.egress_ips.public_ips

  openbao_values = templatefile("${path.module}/values/openbao.values.yaml.tftpl", {
    region                  = var.region
    openbao_namespace       = module.eks.openbao_namespace
    openbao_service_account = module.eks.openbao_service_account
    openbao_unseal_key_id   = module.kms.openbao_unseal_key_id
    openbao_replicas        = var.openbao_replicas
  })

  prometheus_values = templatefile("${path.module}/values/kube-prometheus-stack.values.yaml.tftpl", {
    region       = var.region
    cluster_name = module.eks.cluster_name
  })

  tallyhold_values = templatefile("${path.module}/values/tallyhold.values.yaml.tftpl", {
    egress_ips_json   = jsonencode(local.egress_ips)
    egress_ips_csv    = join(",", local.egress_ips)
    database_address  = module.database.address
    database_port     = module.database.port
    openbao_namespace = module.eks.openbao_namespace
  })
}
