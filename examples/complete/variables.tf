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

variable "alarm_email_addresses" {
  description = "Who hears about the alarms."
  type        = list(string)
  default     = ["dba-oncall@example.com"]
}
