#!/usr/bin/env python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Add up the stestr runs recorded since a given run id.

    tools/stestr_summary.py FIRST_RUN_ID

prints "N passed, N failed, N skipped" and, when tests were skipped, why
(each distinct skip reason with the number of tests it skipped), so a
tier that could not run says so in the closing line and never reads as
passed.

Exits 1 if a test failed or no test ran at all, so a tier that silently
collected nothing cannot pass.
"""

import collections
import os
import sys

from stestr.repository import util as repo_util
import testtools

REPO = '.stestr'


class _FinalStatus(testtools.StreamResult):
    """Remember the last status of every test in a subunit v2 stream."""

    FINAL = ('success', 'fail', 'skip', 'xfail', 'uxsuccess')

    def __init__(self):
        super().__init__()
        self.by_test = {}
        self.reasons = collections.defaultdict(bytes)

    def status(self, test_id=None, test_status=None, file_name=None,
               file_bytes=None, **kwargs):
        if test_id and file_name == 'reason' and file_bytes:
            self.reasons[test_id] += bytes(file_bytes)
        if test_id and test_status in self.FINAL:
            self.by_test[test_id] = test_status


def _count(repo, run_id, totals, skip_reasons):
    result = _FinalStatus()
    result.startTestRun()
    repo.get_test_run(run_id).get_test().run(result)
    result.stopTestRun()
    totals.update(result.by_test.values())
    for test_id, status in result.by_test.items():
        if status == 'skip':
            reason = result.reasons.get(test_id, b'').decode(
                'utf-8', 'replace').strip() or 'no reason given'
            skip_reasons[reason] += 1


def summary_line(passed, failed, skipped, skip_reasons):
    """The closing line: counts, then each skip reason with its count."""
    line = '%d passed, %d failed, %d skipped' % (passed, failed, skipped)
    if skip_reasons:
        line += ' (%s)' % '; '.join(
            '%d: %s' % (count, ' '.join(reason.split()))
            for reason, count in sorted(skip_reasons.items()))
    return line


def main(argv):
    first = int(argv[1]) if len(argv) > 1 else 0
    totals = collections.Counter()
    skip_reasons = collections.Counter()
    if os.path.isdir(REPO):
        repo = repo_util.get_repo_open(repo_url=".")
        for name in sorted(os.listdir(REPO)):
            if name.isdigit() and int(name) >= first:
                _count(repo, name, totals, skip_reasons)
    passed = totals['success'] + totals['xfail']
    failed = totals['fail'] + totals['uxsuccess']
    skipped = totals['skip']
    print(summary_line(passed, failed, skipped, skip_reasons))
    return 1 if failed or not passed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
