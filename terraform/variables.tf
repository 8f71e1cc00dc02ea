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
  description = "The functions/ directory (main.py, the alertbridge package, requirements.txt and requirements-token.txt). Default: ../functions next to this module."
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

variable "functions" {
  description = "Per-function overrides of the module's functions map (modules/config/main.tf), by name: token, subtask, informatica, adobe, ingress (every route on one function, off by default), normalize, notify, poll_cih, sweep. Set enabled, available_memory, timeout_seconds, min_instance_count or max_instance_count."
  type = map(object({
    enabled            = optional(bool)
    available_memory   = optional(string)
    timeout_seconds    = optional(number)
    min_instance_count = optional(number)
    max_instance_count = optional(number)
  }))
  default = {}
  validation {
    condition = alltrue([
      for f in values(var.functions) : (f.max_instance_count == null ? true : f.max_instance_count >= 1)
      && (f.min_instance_count == null ? true : f.min_instance_count >= 0)
      && (f.timeout_seconds == null ? true : f.timeout_seconds >= 1 && f.timeout_seconds <= 3600)
    ])
    error_message = "functions: max_instance_count must be at least 1, min_instance_count at least 0, timeout_seconds 1-3600."
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
  description = "Client id of the Adobe I/O Events registration: events whose recipient_client_id differs are refused. Not a secret. Required when a tenant lists adobe.ims_org_ids."
  type        = string
  default     = ""
}

variable "adobe_allow_missing_recipient" {
  description = "Accept Adobe events that carry no recipient client id at all (only for senders that cannot add it); false refuses them."
  type        = bool
  default     = false
}

variable "tenants_secret_id" {
  description = "Id of an existing Secret Manager secret (in project_id) holding the tenants file, so its content never enters Terraform state. null: the module creates the secret and a version from tenants_file (the content is then in state, as that version's data). Either way tenants_file must be the same content: topics and routing are read from it."
  type        = string
  default     = null
}

variable "tenants_secret_version" {
  description = "Version of tenants_secret_id to mount (a number, or latest). Functions read the file once per instance, so pin a number to roll a change out as a new revision."
  type        = string
  default     = "latest"
}

variable "notify_ack_deadline_seconds" {
  description = "Ack deadline of the notifier's push subscriptions (60-600). The notifier's delivery budget (ALERTBRIDGE_NOTIFY_BUDGET) is this minus 30 s and its timeout at least this, so a slow destination never makes Pub/Sub redeliver while the first attempt runs."
  type        = number
  default     = 120
  validation {
    condition     = var.notify_ack_deadline_seconds >= 60 && var.notify_ack_deadline_seconds <= 600
    error_message = "notify_ack_deadline_seconds must be between 60 and 600 (Pub/Sub allows 10-600; the notifier needs at least 60)."
  }
}

variable "tick_schedule" {
  description = "Cron schedule (UTC) of the shared tick topic that periodic functions (the auto-resolve sweep) are triggered by."
  type        = string
  default     = "* * * * *"
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
