# Minimal deployment: alertbridge with the repository's example tenants file.
#   cp terraform.tfvars.example terraform.tfvars   # set project_id and region
#   terraform init && terraform apply

variable "project_id" {
  description = "Project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions."
  type        = string
  default     = "europe-west1"
}

variable "adobe_client_id" {
  description = "Client id of the Adobe I/O Events registration (the example tenants list Adobe orgs, so it is required)."
  type        = string
}

module "alertbridge" {
  source       = "../.."
  project_id   = var.project_id
  region       = var.region
  tenants_file = "${path.module}/../../../config/tenants.example.yaml"
  source_dir   = "${path.module}/../../../functions"

  adobe_client_id = var.adobe_client_id
  tenant_subscriptions = {
    acme-critical = {
      tenant_id = "4242"
      filter    = "attributes.severity = \"critical\""
    }
  }
}

output "function_urls" {
  description = "Where senders post."
  value       = module.alertbridge.function_urls
}

output "secrets" {
  description = "Secrets to fill before first use."
  value       = module.alertbridge.secrets
}
