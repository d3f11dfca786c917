# The provisioner's whole authority in Vault / OpenBao (security.md §1.4). Its token manages tenants' transit
# keys and tenants' AppRoles, and nothing else: it cannot write a policy, enable or change an auth method or an
# engine, touch a key that is not a tenant key (t_<hex>), make a key exportable, attach any policy but the
# shared tenant policy to a role, or encrypt/decrypt anything (it never sees a customer's secret).
# Paths assume the default mounts `transit/` and `approle/`.

# Tenant transit keys: create (aes256-gcm96, derived, never exportable), read, configure (deletion_allowed,
# min_decryption_version), rotate, trim, delete.
path "transit/keys/t_*" {
  capabilities = ["create", "read", "update", "delete"]
  allowed_parameters = {
    "type"                   = ["aes256-gcm96"]
    "derived"                = [true]
    "convergent_encryption"  = [false]
    "exportable"             = [false]
    "allow_plaintext_backup" = [false]
    "*"                      = []
  }
  # `ciphertext` is only taken by keys/<name>/import and import_version: importing key material would let
  # whoever holds it decrypt the tenant's data. (A separate deny path would not work: Vault applies the single
  # most specific matching rule, and `t_*` outranks `+/import`.)
  denied_parameters = {
    "ciphertext" = []
  }
}

# Rotation rewraps tenants' ciphertexts inside Vault: plaintext never leaves it, so no decrypt is granted.
path "transit/rewrap/t_*" { capabilities = ["update"] }

# Tenants' AppRoles (local backend): only with the shared, templated tenant policy, and with role ids that are
# tenant ids (the tenant policy resolves the key name from the role id).
path "auth/approle/role/t_*" {
  capabilities = ["create", "read", "update", "delete"]
  allowed_parameters = {
    "token_policies" = ["tallyhold-tenant"]
    "policies"       = ["tallyhold-tenant"]
    "role_id"        = ["t_*"]
    "*"              = []
  }
}

# Its own token.
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/lookup-self" { capabilities = ["read"] }

# Writing policies, auth methods, engines, identities or tokens is privilege escalation. Nothing above grants
# them; these denials also outrank broader grants (`sys/*`) of any other policy attached by mistake.
path "sys/policies/*" { capabilities = ["deny"] }
path "sys/policy/*" { capabilities = ["deny"] }
path "sys/auth/*" { capabilities = ["deny"] }
path "sys/mounts/*" { capabilities = ["deny"] }
path "identity/*" { capabilities = ["deny"] }
path "auth/token/create*" { capabilities = ["deny"] }
