"""The one base class of errors meant for a person: the CLI prints them without a traceback.

Subclasses live where their checks do: ``pipeline.config.ConfigError`` (params.yaml),
``pipeline.data.errors.ExtractError`` (an extract), ``pipeline.report.build.DisclosureViolation``
(a report that would break the publication rule). Each message names the file, the key or
column, the rows, and the fix.
"""


class PipelineError(Exception):
    """A problem with the user's input or the published output, explained in the message."""
