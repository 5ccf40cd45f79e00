variable "source_region" {
  description = "Region of the databases and their snapshots: one module instance per account and source region."
  type        = string
  default     = "eu-west-1"
}

variable "destination_region" {
  description = "Disaster-recovery region the snapshots are copied to."
  type        = string
  default     = "eu-central-1"
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the alarm topic; each must confirm the email AWS sends. Empty = subscribe later."
  type        = list(string)
  default     = []
}
