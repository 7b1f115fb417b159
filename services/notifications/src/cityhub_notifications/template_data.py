# ruff: noqa: RUF001 - multilingual text is intentional.
"""The seeded templates (version 1) in the platform's five languages, and the shared labels.

Placeholders: {category}, {status}, {note}, {alert_title}, {alert_body}; check-ins: {ticket},
{people_ahead}, {counter}. Editing a text means
adding a version; notifications keep the version they were rendered with.
"""

from __future__ import annotations

# event_type -> lang -> (title, body)
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "report.created.nearby": {
        "en": (
            "New report near you: {category}",
            "A resident reported {category} near your saved place. Status: {status}.",
        ),
        "zh-Hant": ("附近的新報告：{category}", "有居民在您儲存的地點附近回報了「{category}」。目前狀態：{status}。"),
        "vi": (
            "Báo cáo mới gần bạn: {category}",
            "Một cư dân đã báo cáo {category} gần địa điểm bạn đã lưu. Trạng thái: {status}.",
        ),
        "ja": (
            "近くの新しい報告：{category}",
            "保存した場所の近くで住民が「{category}」を報告しました。状況：{status}。",
        ),
        "fa": (
            "گزارش جدید در نزدیکی شما: {category}",
            "یکی از ساکنان «{category}» را در نزدیکی مکان ذخیره‌شده شما گزارش کرد. وضعیت: {status}.",
        ),
    },
    "report.status_changed": {
        "en": ("Report update: {status}", "The report about {category} you follow is now: {status}. {note}"),
        "zh-Hant": ("您追蹤的報告：{status}", "您追蹤的「{category}」報告狀態已更新為：{status}。{note}"),
        "vi": (
            "Cập nhật báo cáo: {status}",
            "Báo cáo về {category} mà bạn theo dõi đã chuyển sang trạng thái: {status}. {note}",
        ),
        "ja": ("報告の更新：{status}", "フォロー中の「{category}」の報告の状況が「{status}」になりました。{note}"),
        "fa": (
            "به‌روزرسانی گزارش: {status}",
            "وضعیت گزارش «{category}» که دنبال می‌کنید به «{status}» تغییر کرد. {note}",
        ),
    },
    "alert.published": {
        "en": ("Alert: {alert_title}", "{alert_body}"),
        "zh-Hant": ("警示：{alert_title}", "{alert_body}"),
        "vi": ("Cảnh báo: {alert_title}", "{alert_body}"),
        "ja": ("警報：{alert_title}", "{alert_body}"),
        "fa": ("هشدار: {alert_title}", "{alert_body}"),
    },
    "alert.updated": {
        "en": ("Alert updated: {alert_title}", "{alert_body}"),
        "zh-Hant": ("警示更新：{alert_title}", "{alert_body}"),
        "vi": ("Cập nhật cảnh báo: {alert_title}", "{alert_body}"),
        "ja": ("警報の更新：{alert_title}", "{alert_body}"),
        "fa": ("به‌روزرسانی هشدار: {alert_title}", "{alert_body}"),
    },
    "alert.ended": {
        "en": ("Alert over", "The alert for your area has ended."),
        "zh-Hant": ("警示已解除", "您所在地區的警示已結束。"),
        "vi": ("Cảnh báo đã kết thúc", "Cảnh báo tại khu vực của bạn đã kết thúc."),
        "ja": ("警報が解除されました", "お住まいの地域の警報は終了しました。"),
        "fa": ("هشدار پایان یافت", "هشدار منطقه شما به پایان رسید."),
    },
    "checkin.reminded": {
        "en": (
            "Almost your turn: {ticket}",
            "Ticket {ticket}: {people_ahead} people are ahead of you. Please make your way to the counters.",
        ),
        "zh-Hant": ("快輪到您了：{ticket}", "號碼 {ticket}：您前面還有 {people_ahead} 位。請前往櫃台等候區。"),
        "vi": (
            "Sắp đến lượt bạn: {ticket}",
            "Số {ticket}: còn {people_ahead} người trước bạn. Vui lòng đến khu vực quầy.",
        ),
        "ja": (
            "まもなく順番です：{ticket}",
            "番号 {ticket}：あと {people_ahead} 人でお呼びします。窓口へお越しください。",
        ),
        "fa": (
            "نوبت شما نزدیک است: {ticket}",
            "شماره {ticket}: {people_ahead} نفر جلوی شما هستند. لطفاً به سمت باجه‌ها بروید.",
        ),
    },
    "checkin.called": {
        "en": ("It's your turn: {ticket}", "Ticket {ticket}: please go to counter {counter} now."),
        "zh-Hant": ("輪到您了：{ticket}", "號碼 {ticket}：請立即前往 {counter} 號櫃台。"),
        "vi": ("Đến lượt bạn: {ticket}", "Số {ticket}: mời bạn đến quầy {counter} ngay."),
        "ja": ("順番になりました：{ticket}", "番号 {ticket}：{counter} 番窓口へお越しください。"),
        "fa": ("نوبت شماست: {ticket}", "شماره {ticket}: لطفاً همین حالا به باجه {counter} بروید."),
    },
}

STATUS_LABELS: dict[str, dict[str, str]] = {
    "open": {"en": "Open", "zh-Hant": "待處理", "vi": "Mới", "ja": "受付待ち", "fa": "باز"},
    "acknowledged": {
        "en": "Acknowledged",
        "zh-Hant": "已受理",
        "vi": "Đã tiếp nhận",
        "ja": "受付済み",
        "fa": "دریافت شد",
    },
    "in_progress": {"en": "In progress", "zh-Hant": "處理中", "vi": "Đang xử lý", "ja": "対応中", "fa": "در حال انجام"},
    "scheduled": {"en": "Scheduled", "zh-Hant": "已排程", "vi": "Đã lên lịch", "ja": "予定済み", "fa": "زمان‌بندی شد"},
    "fixed": {"en": "Fixed", "zh-Hant": "已修復", "vi": "Đã khắc phục", "ja": "修理済み", "fa": "رفع شد"},
    "closed": {"en": "Closed", "zh-Hant": "已結案", "vi": "Đã đóng", "ja": "完了", "fa": "بسته شد"},
    "duplicate": {
        "en": "Merged with another report",
        "zh-Hant": "已與其他報告合併",
        "vi": "Đã gộp với báo cáo khác",
        "ja": "他の報告と統合",
        "fa": "با گزارش دیگری ادغام شد",
    },
    "not_ours": {
        "en": "Passed to another agency",
        "zh-Hant": "已轉交其他機構",
        "vi": "Đã chuyển cho cơ quan khác",
        "ja": "他機関へ移管",
        "fa": "به نهاد دیگری ارجاع شد",
    },
}

EMAIL_FOOTER: dict[str, str] = {
    "en": "You receive this because you subscribed in the Lakeview app. Change your notification settings in the app.",
    "zh-Hant": "您收到此郵件，是因為您在 Lakeview 應用程式中訂閱了通知。可在應用程式中變更通知設定。",
    "vi": "Bạn nhận được email này vì đã đăng ký nhận thông báo trong ứng dụng Lakeview. Bạn có thể thay đổi cài đặt thông báo trong ứng dụng.",
    "ja": "Lakeview アプリで通知を登録しているため、このメールをお送りしています。通知設定はアプリで変更できます。",
    "fa": "این ایمیل را دریافت می‌کنید چون در برنامه Lakeview برای اعلان‌ها ثبت‌نام کرده‌اید. تنظیمات اعلان را در برنامه تغییر دهید.",
}
