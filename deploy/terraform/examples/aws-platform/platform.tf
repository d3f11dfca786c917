# Helm values of the in-cluster pieces, filled in from this platform's outputs. The helm and kubernetes providers
# are not used: the cluster is installed with the values these render (see the README), so a plan here never
# needs a reachable Kubernetes API.

locals {
  egress_ips = module.egress_ips.public_ips

  # One retry_join per replica (the chart's headless service names them openbao-N.openbao-internal), joined so
  # that each line after the first is indented like the placeholder in the values' raft storage block.
  raft_retry_join = join("\n          ", flatten([for i in range(var.openbao_replicas) : [
    "retry_join {",
    "  leader_api_addr     = \"https://openbao-${i}.openbao-internal:8200\"",
    "  leader_ca_cert_file = \"/openbao/userconfig/openbao-tls/ca.crt\"",
    "}",
  ]]))

  openbao_values = templatefile("${path.module}/values/openbao.values.yaml.tftpl", {
    region                  = var.region
    openbao_namespace       = module.eks.openbao_namespace
    openbao_service_account = module.eks.openbao_service_account
    openbao_unseal_key_id   = module.kms.openbao_unseal_key_id
    openbao_replicas        = var.openbao_replicas
    raft_retry_join         = local.raft_retry_join
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
