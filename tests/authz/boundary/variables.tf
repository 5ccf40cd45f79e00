variable "source_region" {
  description = "Region of the database and its snapshots."
  type        = string
  default     = "eu-west-1"
}

variable "destination_region" {
  description = "Disaster-recovery region the snapshots are copied to."
  type        = string
  default     = "eu-central-1"
}
