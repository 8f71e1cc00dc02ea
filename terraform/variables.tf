variable "project_id" {
  description = "Project that hosts alertbridge."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid GCP project id."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and the Firestore database."
  type        = string
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like europe-west1."
  }
}

variable "prefix" {
  description = "Prefix for every resource name, so several stacks can share a project."
  type        = string
  default     = "alertbridge"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.prefix))
    error_message = "prefix must be 3-21 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "tenants_file" {
  description = "The tenants YAML the runtime reads too (config/tenants.example.yaml shape); one topic per tenant is created from it."
  type        = string
  validation {
    condition     = fileexists(var.tenants_file)
    error_message = "tenants_file must point to an existing file."
  }
}

variable "source_dir" {
  description = "The functions/ directory (main.py, the alertbridge package, requirements.txt)."
  type        = string
  default     = null
}

variable "python_runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python312"
  validation {
    condition     = contains(["python311", "python312", "python313"], var.python_runtime)
    error_message = "python_runtime must be python311, python312 or python313."
  }
}

variable "http_functions" {
  description = "HTTP entry points in functions/main.py to deploy, by short name: entry point, whether it publishes to the ingest topic, and which secrets it reads."
  type = map(object({
    entry_point = string
    publishes   = bool
    secrets     = list(string)
  }))
  default = {
    token       = { entry_point = "token", publishes = false, secrets = ["jwt_keys"] }
    subtask     = { entry_point = "subtask", publishes = true, secrets = ["jwt_keys"] }
    informatica = { entry_point = "informatica", publishes = true, secrets = ["jwt_keys"] }
    adobe       = { entry_point = "adobe", publishes = true, secrets = ["adobe_client_secret"] }
  }
  validation {
    condition     = alltrue([for k, v in var.http_functions : can(regex("^[a-z][a-z0-9_]{0,30}$", k))])
    error_message = "http_functions keys must be short lowercase names."
  }
}

variable "function_scaling" {
  description = "Instance shape of every function. 1 vCPU is needed for request concurrency > 1; 256Mi fits the measured peak RSS (README, Performance)."
  type = object({
    available_memory   = optional(string, "256Mi")
    available_cpu      = optional(string, "1")
    concurrency        = optional(number, 16)
    max_instance_count = optional(number, 20)
    min_instance_count = optional(number, 0)
    timeout_seconds    = optional(number, 30)
  })
  default = {}
  validation {
    condition     = var.function_scaling.concurrency >= 1 && var.function_scaling.concurrency <= 1000
    error_message = "concurrency must be between 1 and 1000."
  }
  validation {
    condition     = var.function_scaling.max_instance_count >= 1
    error_message = "max_instance_count must be at least 1."
  }
}

variable "http_ingress" {
  description = "Ingress of the HTTP functions: senders (pipeline scripts, Adobe I/O Events, Informatica) call them from the internet, authenticated by alertbridge tokens or Adobe signatures."
  type        = string
  default     = "ALLOW_ALL"
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.http_ingress)
    error_message = "http_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before Pub/Sub moves it to the dead-letter topic (5-100). 5 covers a transient outage with the retry backoff (about 10 s, 20 s, 40 s, 80 s) without letting a poison message loop for long."
  type        = number
  default     = 5
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's bounds)."
  }
}

variable "retry_backoff" {
  description = "Exponential redelivery backoff of the subscriptions."
  type = object({
    minimum = optional(string, "10s")
    maximum = optional(string, "600s")
  })
  default = {}
}

variable "ingest_retention" {
  description = "How long the ingest topic keeps raw events, so they can be replayed by seek (max 31 days)."
  type        = string
  default     = "604800s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.ingest_retention))
    error_message = "ingest_retention is a duration in seconds, e.g. 604800s."
  }
}

variable "tenant_subscriptions" {
  description = "Optional extra subscriptions on tenant topics for on-call tools, keyed by a short name: tenant id and a Pub/Sub filter on alert attributes, e.g. attributes.severity = \"critical\"."
  type = map(object({
    tenant_id = string
    filter    = optional(string, "")
  }))
  default = {}
}

variable "jwt_active_kid" {
  description = "Key id (in the JWT keys secret) that signs new tokens."
  type        = string
  default     = "k1"
}

variable "adobe_client_id" {
  description = "Client id of the Adobe I/O Events registration (recipient_client_id). Not a secret."
  type        = string
  default     = ""
}

variable "create_firestore_database" {
  description = "Create the Firestore (native) database the normaliser keeps Adobe run order in. Set false if the project has one."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "cih_poll_schedule" {
  description = "Cron schedule of the Informatica CIH poller (only deployed when a tenant sets informatica.poll). The Events API allows 5 calls a minute."
  type        = string
  default     = "*/5 * * * *"
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (projects/…/cryptoKeys/…) to encrypt the Pub/Sub topics with (CMEK); null keeps Google-managed encryption."
  type        = string
  default     = null
}
