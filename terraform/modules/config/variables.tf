# Inputs of the config module: the root module passes its own variables through (the
# user-facing validations live there, in terraform/variables.tf).

variable "project_id" {
  description = "Project that hosts alertbridge."
  type        = string
}

variable "prefix" {
  description = "Prefix of every resource name."
  type        = string
}

variable "source_dir" {
  description = "The functions/ directory the deploy archives are made of."
  type        = string
}

variable "tenants_file" {
  description = "The tenants YAML the runtime reads too."
  type        = string
}

variable "function_scaling" {
  description = "Instance shape every function starts from."
  type = object({
    available_memory   = string
    available_cpu      = string
    concurrency        = number
    max_instance_count = number
    min_instance_count = number
    timeout_seconds    = number
  })
}

variable "functions" {
  description = "Per-function overrides of the catalogue in main.tf, by function name."
  type = map(object({
    enabled            = optional(bool)
    available_memory   = optional(string)
    timeout_seconds    = optional(number)
    min_instance_count = optional(number)
    max_instance_count = optional(number)
  }))
}

variable "http_ingress" {
  description = "Ingress of the public HTTP functions."
  type        = string
}

variable "jwt_active_kid" {
  description = "Key id that signs new tokens."
  type        = string
}

variable "adobe_client_id" {
  description = "Client id of the Adobe I/O Events registration (recipient_client_id)."
  type        = string
}

variable "adobe_allow_missing_recipient" {
  description = "Accept Adobe events that carry no recipient client id."
  type        = bool
}

variable "max_delivery_attempts" {
  description = "Deliveries before Pub/Sub dead-letters a message."
  type        = number
}

variable "notify_ack_deadline_seconds" {
  description = "Ack deadline of the notifier's push subscriptions."
  type        = number
}

variable "tick_schedule" {
  description = "Cron schedule of the shared tick (sweep and later periodic work)."
  type        = string
}

variable "cih_poll_schedule" {
  description = "Cron schedule of the Informatica CIH poller's tick."
  type        = string
}
