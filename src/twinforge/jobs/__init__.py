"""Bulk jobs as Azure Digital Twins has them: import a bulk file of models, twins and
relationships; delete everything."""

from twinforge.jobs.blobs import BlobPolicy
from twinforge.jobs.bulk import BulkFile, read_bulk, write_bulk
from twinforge.jobs.manager import JobManager, delete_everything

__all__ = ["BlobPolicy", "BulkFile", "JobManager", "delete_everything", "read_bulk", "write_bulk"]
