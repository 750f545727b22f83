"""Process exit codes of the ``codeio`` command: a public, documented interface.

Scripts and schedulers branch on these, so a number never changes meaning once released.
"""

from __future__ import annotations

__all__ = [
    "CANNOT_RUN",
    "INTERNAL_ERROR",
    "INTERRUPTED",
    "LLM_ENDPOINT_DOWN",
    "OK",
    "RETRY_PENDING",
    "STAGE_EMPTY",
    "TERMINATED",
    "USAGE",
]

OK = 0
#: The command cannot do its job: bad config, option, input file, store or environment
#: (`codeio doctor` verdicts included). One line on stderr names the cause and the fix.
CANNOT_RUN = 1
#: Command-line usage error (unknown option, missing argument): printed by the CLI parser.
USAGE = 2
#: A stage failed every record (the message names the reason and one example) or a run ended
#: with nothing to export.
STAGE_EMPTY = 3
#: The run stopped early because the LLM endpoint fails systematically (bad key, outage);
#: rerunning the same command resumes once the cause is fixed.
LLM_ENDPOINT_DOWN = 4
#: The run finished, but some LLM calls failed in a retryable way; rerunning the same command
#: asks them again.
RETRY_PENDING = 5
#: A bug in codeio (an unexpected exception); the message says where the traceback was written.
INTERNAL_ERROR = 70
#: Interrupted by the user (Ctrl-C); rerunning the same command resumes.
INTERRUPTED = 130
#: Stopped by SIGTERM (a scheduler, `kill`, a container stop), cleanly as for Ctrl-C;
#: rerunning the same command resumes.
TERMINATED = 143
