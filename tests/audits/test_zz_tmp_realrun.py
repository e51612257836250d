from datetime import date
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from mlops.demo.batches import festival_batch, to_csv
from audits import services
from audits.models import AuditJob
from tests.browser_fixtures import browser, page, sign_in  # noqa

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_real(upsell_with_reference, reviewer, live_server, page, sign_in, django_capture_on_commit_callbacks):
    frame = festival_batch(2000, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=5, first_customer=90000)
    sign_in(reviewer)
    page.goto(f"{live_server.url}/audits/new/")
    page.get_by_label("Model").select_option("upsell")
    page.get_by_label("Data file").set_input_files(files=[{"name": "festival.csv", "mimeType": "text/csv", "buffer": to_csv(frame, date_format="%d/%m/%Y")}])
    page.get_by_role("button", name="Start the audit").click()
    page.wait_for_load_state()
    page.reload()
    for img in page.locator("img").all():
        img.scroll_into_view_if_needed()
        page.wait_for_function("i => i.complete", arg=img.element_handle())
    page.screenshot(path="/tmp/keel-audit-real-report.png", full_page=True)
    page.goto(f"{live_server.url}/audits/suites/upsell/")
    page.screenshot(path="/tmp/keel-audit-real-suite.png", full_page=True)
