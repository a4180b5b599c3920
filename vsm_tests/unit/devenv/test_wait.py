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

import testtools

from vsm_devenv import wait


class WaitForTestCase(testtools.TestCase):
    def test_returns_the_first_truthy_value(self):
        answers = iter([None, 0, 'ready'])
        self.assertEqual('ready', wait.wait_for(
            lambda: next(answers), 5, interval=0))

    def test_timeout_names_what_and_is_a_test_failure(self):
        e = self.assertRaises(wait.WaitTimeout, wait.wait_for,
                              lambda: False, 0, 'the answer', interval=0)
        self.assertIsInstance(e, AssertionError)
        self.assertIsInstance(e, TimeoutError)
        self.assertIn('waiting for the answer', str(e))

    def test_ignored_errors_count_as_not_yet(self):
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionError('busy')
            return True
        self.assertTrue(wait.wait_for(flaky, 5, interval=0,
                                      ignore=(ConnectionError,)))
        self.assertEqual(3, len(calls))

    def test_other_errors_propagate(self):
        def broken():
            raise ValueError('no')
        self.assertRaises(ValueError, wait.wait_for, broken, 5,
                          ignore=(ConnectionError,))
