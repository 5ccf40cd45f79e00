variable "source_region" {
  description = "Region of the databases and their snapshots."
  type        = string
  default     = "eu-west-1"
}

variable "destination_region" {
  description = "Disaster-recovery region the snapshots are copied to."
  type        = string
  default     = "eu-central-1"
}

variable "databases" {
  description = "Databases to protect, by module instance name (lowercase, at most 32 characters): the instances and clusters of each, and its recovery point objective in hours."
  type = map(object({
    db_instance_identifiers = optional(list(string), [])
    db_cluster_identifiers  = optional(list(string), [])
    rpo_alarm_threshold     = optional(number, 30)
  }))
  default = {
    orders = {
      db_instance_identifiers = ["orders-db"]
    }
    billing = {
      db_instance_identifiers = ["billing-db"]
      rpo_alarm_threshold     = 26
    }
    inventory = {
      db_cluster_identifiers = ["inventory-aurora"]
    }
  }
}
