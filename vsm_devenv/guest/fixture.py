"""``fixtures.Fixture`` wrapper around :class:`~vsm_devenv.guest.harness.Guest`.

    from vsm_devenv.guest.fixture import GuestFixture
    from vsm_devenv.guest.disks import DataDisk, GiB

    class MyTest(testtools.TestCase):
        def test_grow(self):
            guest = self.useFixture(GuestFixture(disks=[DataDisk(GiB, 'vol-1')])).guest
            guest.prepare_disk('ext4-part', 'vol-1', '/mnt/data')

The guest's serial console is attached to the test as detail ``guest-console``.
Booting costs ~10-15 s under TCG: to share one guest between the tests of a class,
set it up in ``setUpClass`` (``fx = GuestFixture(...); fx.setUp()``; ``fx.cleanUp()`` in
``tearDownClass``) and add ``fx.console_detail()`` to each test yourself.
Arguments are those of ``Guest``.
"""
import fixtures
from testtools import content

from vsm_devenv.guest.harness import Guest


class GuestFixture(fixtures.Fixture):
    def __init__(self, **guest_kwargs):
        super().__init__()
        self._kwargs = guest_kwargs
        self.guest = None

    def _setUp(self):
        self.guest = Guest(**self._kwargs)
        self.addCleanup(self._shutdown)
        try:
            self.guest.start()
        finally:
            self.addDetail('guest-console', self.console_detail())

    def _shutdown(self):
        # snapshot the console before shutdown may delete the work dir
        text = self.guest.console_output()
        self.addDetail('guest-console', content.text_content(text))
        self.guest.shutdown()

    def console_detail(self):
        """A testtools Content that reads the console log when the result is reported."""
        guest = self.guest
        return content.Content(content.UTF8_TEXT,
                               lambda: [guest.console_output().encode('utf-8')])
