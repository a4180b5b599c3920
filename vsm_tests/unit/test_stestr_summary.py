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

"""The README test command's closing line names why tests were skipped."""

import collections
import importlib.util
import os

import testtools

_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'tools',
                     'stestr_summary.py')


def _load():
    spec = importlib.util.spec_from_file_location('stestr_summary', _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestSummaryLine(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.summary = _load()

    def test_no_skips_plain_counts(self):
        self.assertEqual('3 passed, 0 failed, 0 skipped',
                         self.summary.summary_line(3, 0, 0, {}))

    def test_skip_reasons_counted_and_folded(self):
        reasons = collections.Counter({
            'DevStack snapshots missing:\n  put them in /x': 1,
            'nova is not installed here': 2})
        self.assertEqual(
            '5 passed, 1 failed, 3 skipped (1: DevStack snapshots missing: '
            'put them in /x; 2: nova is not installed here)',
            self.summary.summary_line(5, 1, 3, reasons))

    def test_reason_read_from_the_subunit_attachment(self):
        result = self.summary._FinalStatus()
        result.status(test_id='t', test_status='inprogress')
        result.status(test_id='t', file_name='reason', file_bytes=b'no ')
        result.status(test_id='t', file_name='reason', file_bytes=b'nova')
        result.status(test_id='t', test_status='skip')
        self.assertEqual({'t': 'skip'}, result.by_test)
        self.assertEqual(b'no nova', result.reasons['t'])
