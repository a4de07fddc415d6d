"""Demo data step for enablement (see partners/management/commands/seed_demo.py).

Per tenant, in the tenant's language: owning teams, ~31 assets (trainings with a small WebM
video, documents with small generated PDFs, FAQs with real-sounding answers), learning
paths, assignments by tier (due dates over the last six months and the next month), support
activities, and six months of activity events written set-based through
``activity_record_many``. Deterministic (``random.Random`` with a fixed seed per tenant);
skipped when the tenant already has assets.

Engagement follows ``partners.demo.partner_strength``: top partners consume more. Some
assets are never used, some FAQ searches find nothing, some FAQ answers did not help.
The training ``deal-registration-masterclass`` is created and published without any events:
the success-patterns demo plants those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from enablement.certifications.pdf import FONT_NAME, register_font
from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    AssignmentTarget,
    DocumentCompletion,
    DocumentVersion,
    EventSource,
    FaqRelatedAsset,
    FaqSynonym,
    LearningPath,
    LearningPathItem,
    Team,
    Verb,
    private_upload_to,
)
from enablement.search.index import faq_reindex
from enablement.services.log import activity_record_many
from enablement.services.reading import event_id_for as reading_event_id
from partners.demo import SEED, partner_strength
from partners.models import MANAGER_ROLES, Membership, Partner, PartnerTier, Role, SupportActivity

DEMO_FILES = Path(__file__).resolve().parent / "demo_files"
VIDEO_FILE = DEMO_FILES / "training.webm"  # 40 s, VP9, generated from a test pattern
VIDEO_SECONDS = 40
MASTERCLASS_ID = "deal-registration-masterclass"
HISTORY_DAYS = 182
EVENT_BATCH = 5000


# --- content --------------------------------------------------------------------------------------
# (external_id, team index, category, tags, title, description)
TEAMS = {
    "ja": ("チャネル営業", "マーケティング", "セールスイネーブルメント", "カスタマーサクセス", "教育"),
    "en": ("Channel Sales", "Marketing", "Sales Enablement", "Customer Success", "Education"),
}
CHANNEL, MARKETING, ENABLEMENT, SUCCESS, EDUCATION = range(5)

TRAININGS = {
    "ja": [
        ("trn-product-overview", EDUCATION, "製品", "入門,製品", "さくらクラウド製品概要", "主要サービスと提供価値を短時間で理解する入門トレーニング。"),
        ("trn-pricing-basics", CHANNEL, "価格", "価格,ライセンス", "価格体系とライセンスの基本", "エディション、ユーザー課金、年間契約の考え方を解説します。"),
        ("trn-demo-skills", ENABLEMENT, "営業スキル", "デモ,営業", "デモ環境の使い方とデモシナリオ", "顧客の課題に合わせた15分デモの組み立て方。"),
        ("trn-security", EDUCATION, "製品", "セキュリティ", "セキュリティとコンプライアンス説明のポイント", "ISMAP、暗号化、監査ログについて顧客に説明するための要点。"),
        ("trn-migration", ENABLEMENT, "ソリューション", "移行,提案", "オンプレミスからの移行提案", "移行アセスメントから段階移行計画までの提案ストーリー。"),
        ("trn-competitive", MARKETING, "営業スキル", "競合,営業", "競合比較と切り返しトーク", "よくある比較質問への答え方と差別化ポイント。"),
        ("trn-onboarding-cs", SUCCESS, "カスタマーサクセス", "導入,定着化", "導入後オンボーディング支援の進め方", "契約後90日で利用を定着させるためのチェックポイント。"),
        ("trn-api-integration", EDUCATION, "技術", "API,技術", "API連携の基礎", "REST APIとWebhookを使った基幹システム連携の基本。"),
        ("trn-partner-portal", CHANNEL, "はじめに", "入門,ポータル", "パートナーポータルの使い方", "資料の探し方、案件登録、トレーニング受講の流れ。"),
        ("trn-advanced-architecture", EDUCATION, "技術", "上級,設計", "上級アーキテクチャ設計ワークショップ(録画)", "大規模環境の冗長化と性能設計を扱う上級者向け録画。"),
        (MASTERCLASS_ID, CHANNEL, "営業スキル", "案件登録,上級", "案件登録マスタークラス", "案件登録から承認・受注までを最短で進めるための実践講座。"),
    ],
    "en": [
        ("trn-product-overview", EDUCATION, "Product", "basics,product", "Northwind Platform Overview", "A short introduction to the core services and the value they deliver."),
        ("trn-pricing-basics", CHANNEL, "Pricing", "pricing,licensing", "Pricing and Licensing Basics", "Editions, per-user pricing and annual contracts explained."),
        ("trn-demo-skills", ENABLEMENT, "Sales skills", "demo,sales", "Running a Winning Demo", "How to build a 15-minute demo around the customer's problem."),
        ("trn-security", EDUCATION, "Product", "security", "Talking Security and Compliance", "SOC 2, encryption and audit logs: what customers ask and how to answer."),
        ("trn-migration", ENABLEMENT, "Solutions", "migration,proposal", "Selling the On-Prem Migration", "From migration assessment to a phased plan the customer can approve."),
        ("trn-competitive", MARKETING, "Sales skills", "competition,sales", "Competitive Positioning and Objection Handling", "Answers to the most common comparison questions."),
        ("trn-onboarding-cs", SUCCESS, "Customer success", "onboarding,adoption", "Customer Onboarding in the First 90 Days", "Checkpoints that make a new customer stick."),
        ("trn-api-integration", EDUCATION, "Technical", "api,technical", "API Integration Fundamentals", "Connecting business systems with the REST API and webhooks."),
        ("trn-partner-portal", CHANNEL, "Getting started", "basics,portal", "Getting Started with the Partner Portal", "Finding materials, registering deals and taking trainings."),
        ("trn-advanced-architecture", EDUCATION, "Technical", "advanced,architecture", "Advanced Architecture Workshop (Recording)", "High availability and performance design for large deployments."),
        (MASTERCLASS_ID, CHANNEL, "Sales skills", "deal registration,advanced", "Deal Registration Masterclass", "A hands-on course on getting deals registered, approved and won faster."),
    ],
}
DOCUMENTS = {
    "ja": [
        ("doc-product-brochure", MARKETING, "製品", "カタログ,製品", "製品カタログ 2026年版", "全サービスの概要と主な導入効果をまとめたカタログ。", "製品カタログ_2026.pdf"),
        ("doc-price-list", CHANNEL, "価格", "価格", "パートナー価格表(2026年度下期)", "パートナー仕切価格とディスカウント条件。", "パートナー価格表_2026下期.pdf"),
        ("doc-proposal-template", ENABLEMENT, "提案", "提案,テンプレート", "提案書テンプレート", "課題・解決策・費用対効果の順で構成した提案書のひな形。", "提案書テンプレート.pdf"),
        ("doc-case-study-manufacturing", MARKETING, "事例", "事例,製造業", "導入事例:製造業A社", "生産管理システムのクラウド移行で運用コストを35%削減。", "導入事例_製造業A社.pdf"),
        ("doc-case-study-retail", MARKETING, "事例", "事例,小売", "導入事例:小売業B社", "全国200店舗のPOSデータ基盤を刷新した事例。", "導入事例_小売業B社.pdf"),
        ("doc-security-whitepaper", EDUCATION, "製品", "セキュリティ", "セキュリティホワイトペーパー", "データ保護、認証、監査への対応を技術的に解説。", "セキュリティホワイトペーパー.pdf"),
        ("doc-roi-guide", ENABLEMENT, "提案", "ROI,提案", "ROI試算ガイド", "顧客と一緒に投資対効果を試算する手順。", "ROI試算ガイド.pdf"),
        ("doc-deal-registration-guide", CHANNEL, "案件登録", "案件登録", "案件登録ガイド", "登録条件、承認フロー、保護期間のルール。", "案件登録ガイド.pdf"),
        ("doc-onboarding-checklist", SUCCESS, "カスタマーサクセス", "導入,チェックリスト", "導入オンボーディング チェックリスト", "キックオフから稼働後レビューまでの確認項目。", "導入チェックリスト.pdf"),
        ("doc-logo-guidelines", MARKETING, "マーケティング", "ロゴ,共同マーケティング", "共同マーケティング ロゴ使用ガイドライン", "ロゴ・製品画像を共同資料で使うときの決まり。", "ロゴ使用ガイドライン.pdf"),
    ],
    "en": [
        ("doc-product-brochure", MARKETING, "Product", "brochure,product", "Product Brochure 2026", "All services at a glance, with typical customer outcomes.", "Northwind Product Brochure 2026.pdf"),
        ("doc-price-list", CHANNEL, "Pricing", "pricing", "Partner Price List (H2 FY2026)", "Partner prices and discount conditions.", "Partner Price List H2 FY2026.pdf"),
        ("doc-proposal-template", ENABLEMENT, "Proposals", "proposal,template", "Proposal Template", "A proposal outline: problem, solution, return on investment.", "Proposal Template.pdf"),
        ("doc-case-study-manufacturing", MARKETING, "Case studies", "case study,manufacturing", "Case Study: Manufacturing Leader Cuts Ops Cost 35%", "Moving production planning to the cloud.", "Case Study - Manufacturing.pdf"),
        ("doc-case-study-retail", MARKETING, "Case studies", "case study,retail", "Case Study: Retail Chain Modernises POS Data", "A new data platform for 200 stores.", "Case Study - Retail.pdf"),
        ("doc-security-whitepaper", EDUCATION, "Product", "security", "Security Whitepaper", "Data protection, authentication and audit in depth.", "Security Whitepaper.pdf"),
        ("doc-roi-guide", ENABLEMENT, "Proposals", "roi,proposal", "ROI Calculation Guide", "Working out the return on investment with the customer.", "ROI Guide.pdf"),
        ("doc-deal-registration-guide", CHANNEL, "Deal registration", "deal registration", "Deal Registration Guide", "Eligibility, approval flow and protection period.", "Deal Registration Guide.pdf"),
        ("doc-onboarding-checklist", SUCCESS, "Customer success", "onboarding,checklist", "Customer Onboarding Checklist", "From kickoff to the post-go-live review.", "Onboarding Checklist.pdf"),
        ("doc-logo-guidelines", MARKETING, "Marketing", "logo,co-marketing", "Co-marketing Logo Guidelines", "Rules for using logos and product images in joint material.", "Logo Guidelines.pdf"),
    ],
}
# (external_id, team, category, question, answer (Markdown), search keywords that find it)
FAQS = {
    "ja": [
        ("faq-deal-registration", CHANNEL, "案件登録", "案件登録はどこから行えますか?",
         "ポータル上部の **案件** メニューから「新規登録」を選び、顧客名・製品・金額・受注予定日を入力してください。\n\n登録後、承認結果はポータルとメールで通知されます。",
         ("案件登録", "案件 登録 方法", "商談 登録")),
        ("faq-registration-approval", CHANNEL, "案件登録", "案件登録の承認にはどのくらいかかりますか?",
         "通常 **2営業日以内** に担当のチャネルマネージャーが確認します。競合登録がある場合は、先に登録された案件が優先されます。",
         ("承認", "案件 承認 期間")),
        ("faq-nfr-license", CHANNEL, "ライセンス", "デモ用(NFR)ライセンスを申請するには?",
         "ゴールド以上のパートナーは年2回までNFRライセンスを申請できます。申請フォームに利用目的と利用者数を記入してください。",
         ("NFR", "デモ ライセンス", "評価版")),
        ("faq-price-discount", CHANNEL, "価格", "特別価格(ディスカウント)を申請する方法は?",
         "案件登録が承認された案件に限り、価格表の標準ディスカウントを超える特別価格を申請できます。案件詳細画面の「特別価格申請」から申請してください。",
         ("ディスカウント", "値引き", "特別価格")),
        ("faq-training-certificate", EDUCATION, "トレーニング", "トレーニングの修了証は発行されますか?",
         "認定トレーニングを **90%以上視聴** すると修了となり、ポータルのホーム画面から修了証(PDF)をダウンロードできます。",
         ("修了証", "トレーニング 修了")),
        ("faq-password-reset", CHANNEL, "アカウント", "ポータルのパスワードを忘れた場合は?",
         "ログイン画面の「パスワードをお忘れの方」からメールアドレスを入力してください。再設定用のリンクが届きます。",
         ("パスワード", "ログイン できない")),
        ("faq-mdf", MARKETING, "マーケティング", "共同マーケティング費用(MDF)の申請方法は?",
         "四半期ごとに実施計画を提出してください。承認後、実施報告と証憑の提出をもって精算します。",
         ("MDF", "マーケティング 費用")),
        ("faq-support-escalation", SUCCESS, "サポート", "顧客の障害をエスカレーションするには?",
         "重大度1の障害は24時間窓口へ電話し、受付番号をチャネルマネージャーに共有してください。それ以外はサポートポータルから起票します。",
         ("エスカレーション", "障害 対応")),
        ("faq-tier-upgrade", CHANNEL, "パートナープログラム", "パートナーティアの昇格条件は?",
         "年間売上、認定資格者数、顧客満足度の3つの基準で半期ごとに判定します。詳しくはパートナープログラムガイドをご覧ください。",
         ("ティア 昇格", "ゴールド 条件")),
        ("faq-logo-usage", MARKETING, "マーケティング", "ロゴや製品画像を提案資料に使ってもよいですか?",
         "はい。ロゴ使用ガイドラインに従う限り、提案資料や共同セミナーで使用できます。改変はできません。",
         ()),
        # Newer answers (no search history yet).
        ("faq-add-user", CHANNEL, "アカウント", "同僚をポータルに追加するには?",
         "貴社の管理者ユーザーが **設定 > メンバー** から招待メールを送信します。招待を承認するとログインできます。",
         ()),
        ("faq-mfa", CHANNEL, "アカウント", "二要素認証(MFA)を設定するには?",
         "ログイン後、**アカウント設定 > セキュリティ** で認証アプリを登録してください。スマートフォンを紛失した場合はリカバリーコードでログインできます。",
         ()),
        ("faq-deal-protection", CHANNEL, "案件登録", "承認された案件の保護期間はどのくらいですか?",
         "承認日から **90日間** 保護されます。期限の14日前から延長を申請できます。",
         ()),
        ("faq-certification-exam", EDUCATION, "トレーニング", "認定資格試験はどうやって申し込みますか?",
         "ポータルの **トレーニング** で認定コースを修了すると、受験の申し込みボタンが表示されます。ゴールド以上のパートナーは受験料が無料です。",
         ()),
        ("faq-demo-environment", SUCCESS, "製品", "顧客向けのデモ環境を用意してもらえますか?",
         "登録済みの案件があれば、30日間使えるデモ環境を提供します。案件詳細画面から依頼してください。",
         ()),
    ],
    "en": [
        ("faq-deal-registration", CHANNEL, "Deal registration", "Where do I register a deal?",
         "Open **Deals** in the portal menu, choose *Register a deal* and enter the customer, product, amount and expected close date.\n\nYou are notified in the portal and by email once it is reviewed.",
         ("deal registration", "register deal", "register opportunity")),
        ("faq-registration-approval", CHANNEL, "Deal registration", "How long does deal registration approval take?",
         "Your channel manager reviews registrations within **two business days**. When two partners register the same opportunity, the first registration wins.",
         ("approval", "approval time")),
        ("faq-nfr-license", CHANNEL, "Licensing", "How do I request an NFR (demo) license?",
         "Gold partners and above can request NFR licenses twice a year. Fill in the request form with the purpose and number of users.",
         ("nfr", "demo license", "trial license")),
        ("faq-price-discount", CHANNEL, "Pricing", "How do I request a special discount?",
         "For approved deal registrations you can request pricing beyond the standard discount from the deal's page (*Request special pricing*).",
         ("discount", "special pricing")),
        ("faq-training-certificate", EDUCATION, "Training", "Do I get a certificate for completing a training?",
         "Yes: watch at least **90%** of a certified training and download the PDF certificate from the portal home page.",
         ("certificate", "training completion")),
        ("faq-password-reset", CHANNEL, "Account", "I forgot my portal password. What do I do?",
         "Use *Forgot your password?* on the login page and enter your email address; you will receive a reset link.",
         ("password", "cannot log in")),
        ("faq-mdf", MARKETING, "Marketing", "How do I apply for market development funds (MDF)?",
         "Submit a plan each quarter. Once approved, claim the funds with a short report and receipts.",
         ("mdf", "marketing funds")),
        ("faq-support-escalation", SUCCESS, "Support", "How do I escalate a customer outage?",
         "For severity-1 incidents call the 24/7 hotline and share the ticket number with your channel manager; open other cases in the support portal.",
         ("escalation", "outage")),
        ("faq-tier-upgrade", CHANNEL, "Partner program", "What are the requirements to move up a tier?",
         "Tiers are reviewed every six months on annual revenue, certified staff and customer satisfaction. See the partner program guide for the thresholds.",
         ("tier upgrade", "gold requirements")),
        ("faq-logo-usage", MARKETING, "Marketing", "May I use your logo and product images in proposals?",
         "Yes, as long as you follow the logo guidelines. Do not alter the logo.",
         ()),
        # Newer answers (no search history yet).
        ("faq-add-user", CHANNEL, "Account", "How do I add a colleague to the portal?",
         "Your company's portal administrator invites colleagues from **Settings > Members**; they can sign in once they accept the invitation.",
         ()),
        ("faq-mfa", CHANNEL, "Account", "How do I set up two-factor authentication (MFA)?",
         "After signing in, open **Account settings > Security** and register an authenticator app. If you lose your phone, sign in with a recovery code.",
         ()),
        ("faq-deal-protection", CHANNEL, "Deal registration", "How long is an approved deal protected?",
         "An approved registration is protected for **90 days** from approval. You can ask for an extension from 14 days before it expires.",
         ()),
        ("faq-certification-exam", EDUCATION, "Training", "How do I book the certification exam?",
         "Finish the certification course under **Trainings** in the portal and the exam booking button appears. The exam is free for Gold partners and above.",
         ()),
        ("faq-demo-environment", SUCCESS, "Product", "Can you provide a demo environment for a customer?",
         "With a registered deal you can get a demo environment for 30 days; request it from the deal's page.",
         ()),
    ],
}
# The tenant's FAQ synonym list: words partners use for the same thing as the FAQs do.
FAQ_SYNONYMS = {
    "ja": [
        "値引き, ディスカウント, 割引, 特別価格, discount",
        "案件, 商談, ディール, deal, opportunity",
        "MDF, 共同マーケティング費用, マーケティング支援金, 販促費",
        "ログイン, サインイン, login, sign in",
        "パスワード, password, PW",
        "ライセンス, license",
        "修了証, 認定証, 証明書, certificate",
        "二要素認証, 二段階認証, MFA, 2FA",
        "ティア, ランク, パートナーレベル, tier",
        "障害, 不具合, トラブル, outage",
        "評価版, トライアル, 試用版, NFR",
    ],
    "en": [
        "discount, price reduction, special pricing, markdown",
        "deal, opportunity",
        "mdf, market development funds, co-marketing funds, marketing funds",
        "log in, login, sign in",
        "outage, incident, downtime",
        "two-factor authentication, 2fa, mfa, multi-factor authentication",
        "colleague, coworker, teammate",
        "tier, partner level",
        "nfr, not for resale, demo license, trial license",
    ],
}
ZERO_RESULT_QUERIES = {
    "ja": ("請求書 再発行", "納品書", "保守契約 更新", "英語 資料", "見積 有効期限", "請求書 再発行"),
    "en": ("invoice reissue", "purchase order change", "renewal quote", "japanese datasheet", "rma return"),
}
NEVER_USED = {"trn-advanced-architecture", "doc-logo-guidelines", "faq-logo-usage", MASTERCLASS_ID}
# Documents with a completion rule other than "viewed": the price list counts when downloaded, the ROI
# guide when read for 5 minutes in the portal (document.read, after a view at least that long before).
DOCUMENT_RULES = {"doc-price-list": (DocumentCompletion.DOWNLOAD, None), "doc-roi-guide": (DocumentCompletion.TIME, 300)}
UNPOPULAR = {"trn-api-integration": 0.25, "doc-security-whitepaper": 0.3, "faq-mdf": 0.3, "trn-competitive": 0.5}
PATHS = {
    "ja": [
        ("新任営業オンボーディング", "最初の30日で受講してほしい基本セット。",
         ["trn-partner-portal", "trn-product-overview", "doc-product-brochure", "trn-pricing-basics", "doc-price-list"]),
        ("提案力強化コース", "デモと提案書作成を実践的に学ぶコース。",
         ["trn-demo-skills", "doc-proposal-template", "doc-roi-guide", "trn-competitive"]),
        ("移行・セキュリティ提案コース", "エンタープライズ向け提案の上級セット。",
         ["trn-security", "doc-security-whitepaper", "trn-migration", "doc-case-study-manufacturing"]),
    ],
    "en": [
        ("New Seller Onboarding", "The basics every new seller should take in the first 30 days.",
         ["trn-partner-portal", "trn-product-overview", "doc-product-brochure", "trn-pricing-basics", "doc-price-list"]),
        ("Proposal Skills", "Hands-on demo and proposal skills.",
         ["trn-demo-skills", "doc-proposal-template", "doc-roi-guide", "trn-competitive"]),
        ("Migration and Security Selling", "Advanced set for enterprise proposals.",
         ["trn-security", "doc-security-whitepaper", "trn-migration", "doc-case-study-manufacturing"]),
    ],
}
ACTIVITY_NOTES = {
    "ja": {
        "meeting": ("四半期ビジネスレビュー。パイプラインと重点顧客を確認。", "新製品の説明と販売計画のすり合わせ。"),
        "workshop": ("提案力強化ワークショップを実施。デモ練習を2回。", "移行提案ワークショップ。アセスメント手順を説明。"),
        "call": ("案件登録の進め方について電話で相談対応。", "価格表の改定内容を説明。"),
        "email": ("新しい導入事例とテンプレートを送付。", "トレーニング受講のリマインド。"),
        "co_selling": ("大型案件の顧客訪問に同行。", "共同提案のデモを担当。"),
        "other": ("パートナー向けセミナーに招待。", "年次カンファレンスでの打ち合わせ。"),
    },
    "en": {
        "meeting": ("Quarterly business review: pipeline and key accounts.", "Walked through the new release and the sales plan."),
        "workshop": ("Proposal skills workshop with two demo rehearsals.", "Migration workshop: assessment steps."),
        "call": ("Call about how to register a large opportunity.", "Explained the new price list."),
        "email": ("Sent the new case studies and the proposal template.", "Reminder about the assigned trainings."),
        "co_selling": ("Joined the customer visit for a large deal.", "Ran the demo in a joint proposal."),
        "other": ("Invited to the partner seminar.", "Met at the annual conference."),
    },
}
PARTICIPANTS = {"ja": ("営業部長", "担当営業", "SE", "マーケティング担当", "代表取締役"),
                "en": ("Sales director", "Account executive", "Solutions engineer", "Marketing lead", "CEO")}


# --- files ----------------------------------------------------------------------------------------
def demo_pdf(*, title: str, tenant: str, subtitle: str, body: str) -> bytes:
    """A one-page demo document drawn with ReportLab in the certificate's embedded Noto Sans JP, so a
    Japanese tenant's files read in Japanese. ``invariant`` keeps the bytes (and sha256) the same each run."""
    register_font()
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    c.setTitle(title)
    c.setAuthor(tenant)
    width, height = A4
    c.setFillColor(colors.HexColor("#1f4e79"))
    c.rect(0, height - 36 * mm, width, 36 * mm, stroke=0, fill=1)
    c.setFillColor(colors.white)
    c.setFont(FONT_NAME, 11)
    c.drawString(20 * mm, height - 14 * mm, tenant)
    c.setFont(FONT_NAME, 20)
    c.drawString(20 * mm, height - 27 * mm, title)
    c.setFillColor(colors.HexColor("#222222"))
    c.setFont(FONT_NAME, 12)
    c.drawString(20 * mm, height - 50 * mm, subtitle)
    c.setFont(FONT_NAME, 11)
    for i, line in enumerate(simpleSplit(body, FONT_NAME, 11, width - 40 * mm)):
        c.drawString(20 * mm, height - (62 + 6 * i) * mm, line)
    c.setFillColor(colors.HexColor("#666666"))
    c.setFont(FONT_NAME, 9)
    c.drawString(20 * mm, 15 * mm, "Shien demo document")
    c.showPage()
    c.save()
    return buffer.getvalue()


# --- generation -----------------------------------------------------------------------------------
@dataclass
class _Ctx:
    tenant: object
    rng: random.Random
    lang: str
    now: dt.datetime
    today: dt.date
    tz: object
    n: int = 0

    def moment(self, day: dt.date, hour: float) -> dt.datetime:
        at = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz) + dt.timedelta(hours=hour)
        return min(at, self.now - dt.timedelta(minutes=5))

    @staticmethod
    def existed(asset: Asset, at: dt.datetime) -> bool:
        """Was the asset there (created and published) at ``at``? No event precedes its asset."""
        return asset.created_at <= at and (asset.published_at is None or asset.published_at <= at)

    def event(self, **fields) -> ActivityEvent:
        """An unsaved event, built positionally (much faster than keyword construction for ~20k rows)."""
        self.n += 1
        occurred = fields.pop("occurred_at")
        values = {
            **_EVENT_DEFAULTS, **fields, "tenant_id": self.tenant.pk, "occurred_at": occurred,
            "received_at": occurred + dt.timedelta(seconds=2), "event_id": f"demo-{self.tenant.slug}-{self.n:07d}",
        }
        return ActivityEvent(*(values[name] for name in _EVENT_FIELDS))


_EVENT_FIELDS = [f.attname for f in ActivityEvent._meta.concrete_fields]
_EVENT_DEFAULTS = {
    "id": None, "user_id": None, "actor_ref": "", "asset_id": None, "progress": None, "seconds": None,
    "position": None, "played_segments": None, "query": "", "result_count": None, "resolved": None,
    "source": EventSource.PORTAL, "session_key": "", "extra": {}, "trusted": None,
}


def _assets(ctx: _Ctx, teams: list[Team], admin) -> dict[str, Asset]:
    tenant, lang = ctx.tenant, ctx.lang
    published = ctx.now - dt.timedelta(days=HISTORY_DAYS + 20)
    assets: list[Asset] = []
    video_name = default_storage.save(
        private_upload_to(Asset(tenant=tenant), "training.webm"), ContentFile(VIDEO_FILE.read_bytes())
    )
    for ext_id, team, category, tags, title, desc in TRAININGS[lang]:
        assets.append(Asset(
            tenant=tenant, kind=AssetKind.TRAINING, title=title, description=desc, language=lang, category=category,
            tags=Asset.normalise_tags(tags), team=teams[team], status=AssetStatus.PUBLISHED, external_id=ext_id,
            video_file=video_name, duration_seconds=VIDEO_SECONDS, completion_threshold=90, created_by=admin,
            created_at=published, published_at=published,
        ))
    for ext_id, team, category, tags, title, desc, _file in DOCUMENTS[lang]:
        assets.append(Asset(
            tenant=tenant, kind=AssetKind.DOCUMENT, title=title, description=desc, language=lang, category=category,
            tags=Asset.normalise_tags(tags), team=teams[team], status=AssetStatus.PUBLISHED, external_id=ext_id,
            created_by=admin, created_at=published, published_at=published,
            completion_requires=DOCUMENT_RULES.get(ext_id, (DocumentCompletion.VIEW, None))[0],
            completion_min_seconds=DOCUMENT_RULES.get(ext_id, (DocumentCompletion.VIEW, None))[1],
        ))
    for ext_id, team, category, question, answer, _queries in FAQS[lang]:
        assets.append(Asset(
            tenant=tenant, kind=AssetKind.FAQ, title=question, body=answer, language=lang, category=category,
            team=teams[team], status=AssetStatus.PUBLISHED, external_id=ext_id, created_by=admin,
            created_at=published, published_at=published,
        ))
    # One draft and one archived asset so the manage list shows every status.
    extra = {
        "ja": ("trn-new-release-draft", "新バージョン リリース概要(作成中)", "doc-price-list-2025", "パートナー価格表(2025年度・旧版)"),
        "en": ("trn-new-release-draft", "What's New in the Next Release (draft)", "doc-price-list-2025", "Partner Price List FY2025 (old)"),
    }[lang]
    assets.append(Asset(tenant=tenant, kind=AssetKind.TRAINING, title=extra[1], language=lang, team=teams[EDUCATION],
                        status=AssetStatus.DRAFT, external_id=extra[0], video_file=video_name,
                        duration_seconds=VIDEO_SECONDS, created_by=admin))
    assets.append(Asset(tenant=tenant, kind=AssetKind.DOCUMENT, title=extra[3], language=lang, team=teams[CHANNEL],
                        status=AssetStatus.ARCHIVED, external_id=extra[2], created_by=admin, created_at=published,
                        published_at=published))
    Asset.objects.bulk_create(assets)
    by_id = {a.external_id: a for a in Asset.objects.filter(tenant=tenant)}
    # Document files: version 1 for every document, version 2 for the two that changed.
    versions = []
    doc_specs = [(d[0], d[4], d[5], d[6]) for d in DOCUMENTS[lang]] + [
        (extra[2], extra[3], "", "price-list-2025.pdf")]
    for ext_id, title, description, file_name in doc_specs:
        asset = by_id[ext_id]
        for number in (1, 2) if ext_id in {"doc-price-list", "doc-proposal-template"} else (1,):
            content = demo_pdf(title=title, tenant=tenant.name, body=description,
                               subtitle=f"第{number}版" if lang == "ja" else f"Version {number}")
            dv = DocumentVersion(tenant=tenant, asset=asset, version=number, original_name=file_name,
                                 content_type="application/pdf", size=len(content),
                                 sha256=hashlib.sha256(content).hexdigest(), uploaded_by=admin,
                                 uploaded_at=published + dt.timedelta(days=60 * (number - 1)),
                                 note="" if number == 1 else ("価格改定" if lang == "ja" else "New prices"))
            dv.file.name = default_storage.save(private_upload_to(dv, "x.pdf"), ContentFile(content))
            versions.append(dv)
    DocumentVersion.objects.bulk_create(versions)
    related = [("faq-deal-registration", "doc-deal-registration-guide"), ("faq-deal-registration", MASTERCLASS_ID),
               ("faq-registration-approval", "doc-deal-registration-guide"), ("faq-price-discount", "doc-price-list"),
               ("faq-training-certificate", "trn-product-overview"), ("faq-logo-usage", "doc-logo-guidelines"),
               ("faq-support-escalation", "doc-onboarding-checklist")]
    FaqRelatedAsset.objects.bulk_create(
        [FaqRelatedAsset(tenant=tenant, faq=by_id[a], asset=by_id[b]) for a, b in related]
    )
    return by_id


def _paths_and_assignments(ctx: _Ctx, by_id: dict[str, Asset], tiers: list[PartnerTier], partners, admin) -> int:
    tenant = ctx.tenant
    paths = []
    for title, desc, items in PATHS[ctx.lang]:
        path = LearningPath.objects.create(tenant=tenant, title=title, description=desc, created_by=admin,
                                           created_at=ctx.now - dt.timedelta(days=HISTORY_DAYS + 20))
        LearningPathItem.objects.bulk_create(
            [LearningPathItem(tenant=tenant, path=path, asset=by_id[x], position=i + 1) for i, x in enumerate(items)]
        )
        paths.append(path)
    onboarding, proposal, migration = paths
    t = ctx.today
    spec = [  # (what, tier index, due in days from today)
        (onboarding, 0, -165), (onboarding, 1, -150), (onboarding, 2, -120), (onboarding, 3, -90),
        (proposal, 0, -100), (proposal, 1, -60), (migration, 0, -30), (by_id["trn-security"], 1, -20),
        (by_id["trn-onboarding-cs"], 0, -45), (by_id["trn-onboarding-cs"], 1, 12),
        (by_id["doc-case-study-retail"], 2, 20), (proposal, 2, 28), (by_id["trn-product-overview"], 3, 25),
        (by_id["trn-competitive"], 1, -75),
    ]
    rows = []
    for what, tier_index, due in spec:
        is_path = isinstance(what, LearningPath)
        due_on = t + dt.timedelta(days=due)
        rows.append(Assignment(
            tenant=tenant, asset=None if is_path else what, learning_path=what if is_path else None,
            target=AssignmentTarget.TIER, tier=tiers[min(tier_index, len(tiers) - 1)], due_on=due_on,
            required_completions=2 if tier_index == 0 else 1, source="demo", created_by=admin,
            created_at=timezone.make_aware(dt.datetime.combine(due_on - dt.timedelta(days=45), dt.time(10))),
        ))
    segment = sorted({p.segment for p in partners if p.segment})[0] if partners else ""
    if segment:
        rows.append(Assignment(
            tenant=tenant, asset=by_id["trn-migration"], target=AssignmentTarget.SEGMENT, segment=segment,
            due_on=t + dt.timedelta(days=-10), source="demo", created_by=admin,
            created_at=timezone.make_aware(dt.datetime.combine(t - dt.timedelta(days=55), dt.time(10))),
        ))
    nurturing = [p for p in partners if p.status == "nurturing"][:3]
    for p in nurturing:
        rows.append(Assignment(
            tenant=tenant, asset=by_id["doc-deal-registration-guide"], target=AssignmentTarget.PARTNER, partner=p,
            due_on=t + dt.timedelta(days=14), source="demo", created_by=admin,
            created_at=timezone.make_aware(dt.datetime.combine(t - dt.timedelta(days=20), dt.time(10))),
        ))
    Assignment.objects.bulk_create(rows)
    return len(rows)


def _support_activities(ctx: _Ctx, partners, fallback_manager) -> int:
    rng, rows = ctx.rng, []
    kinds = ["meeting", "workshop", "call", "email", "co_selling", "other"]
    weights = [5, 2, 5, 4, 2, 1]
    for p in partners:
        s = partner_strength(p)
        count = max(2, min(6, round(2 + 4 * s + rng.uniform(-1, 1))))
        for _ in range(count):
            kind = rng.choices(kinds, weights)[0]
            day = ctx.today - dt.timedelta(days=rng.randint(0, HISTORY_DAYS))
            if day < p.joined_on:
                day = p.joined_on + dt.timedelta(days=rng.randint(0, max(0, (ctx.today - p.joined_on).days)))
            rows.append(SupportActivity(
                tenant=ctx.tenant, partner=p, manager_id=p.manager_id or fallback_manager, kind=kind, occurred_on=day,
                duration_minutes={"email": 10, "call": 30}.get(kind, rng.choice([45, 60, 90, 120])),
                participants=", ".join(rng.sample(PARTICIPANTS[ctx.lang], rng.randint(1, 3))),
                notes=rng.choice(ACTIVITY_NOTES[ctx.lang][kind]),
            ))
    SupportActivity.objects.bulk_create(rows)
    return len(rows)


def _events(ctx: _Ctx, by_id: dict[str, Asset], partners, users_by_partner) -> list[ActivityEvent]:
    rng, lang = ctx.rng, ctx.lang
    trainings = [by_id[t[0]] for t in TRAININGS[lang] if t[0] not in NEVER_USED]
    documents = [by_id[d[0]] for d in DOCUMENTS[lang] if d[0] not in NEVER_USED]
    faqs = [(by_id[f[0]], f[5]) for f in FAQS[lang] if f[0] not in NEVER_USED and f[5]]

    def weights(assets):
        return [UNPOPULAR.get(a.external_id, 1.0) * (1.5 if i < 3 else 1.0) for i, a in enumerate(assets)]

    tw, dw, fw = weights(trainings), weights(documents), weights([a for a, _ in faqs])
    zero = ZERO_RESULT_QUERIES[lang]
    events: list[ActivityEvent] = []
    for p in partners:
        users = users_by_partner.get(p.pk)
        if not users:
            continue
        s = partner_strength(p)
        start = max(ctx.today - dt.timedelta(days=HISTORY_DAYS), p.joined_on)
        span = (ctx.today - start).days
        if span <= 0:
            continue
        sessions = int((40 + 300 * s * s) * span / HISTORY_DAYS)
        watched: dict[tuple[int, int], list[float]] = {}  # (user, asset) -> [covered seconds, completed]
        read: set[tuple[int, int]] = set()  # (user, document) read for its minimum time
        for k in range(sessions):
            # More recent days are a little more likely (engagement grows with the programme).
            day = ctx.today - dt.timedelta(days=int(span * rng.random() ** 1.25))
            hour = rng.uniform(9, 18.5)
            user = rng.choice(users)
            at = ctx.moment(day, hour)
            session = f"demo-{p.pk}-{k}"
            events.append(ctx.event(partner_id=p.pk, user_id=user, verb=Verb.PORTAL_LOGIN, occurred_at=at,
                                    session_key=session))
            for _ in range(rng.choices([1, 2, 3, 4], [4, 4, 2, 1 + 2 * s])[0]):
                at += dt.timedelta(minutes=rng.uniform(1, 12))
                roll = rng.random()
                if roll < 0.45:
                    asset = rng.choices(trainings, tw)[0]
                    if not ctx.existed(asset, at):
                        continue
                    key = (user, asset.pk)
                    state = watched.setdefault(key, [0.0, 0.0])
                    if state[1]:
                        continue  # already completed
                    dur = float(asset.duration_seconds or VIDEO_SECONDS)
                    if state[0] == 0:
                        events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                                verb=Verb.TRAINING_STARTED, occurred_at=at, progress=0.0, seconds=0.0,
                                                position=0.0, session_key=session))
                    begin = state[0]
                    chunk = min(dur - begin, dur * rng.uniform(0.25, 0.6) * (0.6 + s))
                    if chunk <= 0.5:
                        continue
                    end = begin + chunk
                    state[0] = end
                    progress = round(100 * end / dur, 1)
                    at += dt.timedelta(seconds=chunk)
                    events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                            verb=Verb.TRAINING_PROGRESSED, occurred_at=at, progress=progress,
                                            seconds=round(chunk, 1), position=round(end, 1),
                                            played_segments=[[0.0, round(end, 1)]], session_key=session))
                    if progress >= asset.completion_threshold:
                        state[1] = 1.0
                        events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                                verb=Verb.TRAINING_COMPLETED, occurred_at=at, progress=progress,
                                                seconds=round(end, 1), position=round(end, 1),
                                                played_segments=[[0.0, round(end, 1)]], session_key=session))
                elif roll < 0.75:
                    asset = rng.choices(documents, dw)[0]
                    if not ctx.existed(asset, at):
                        continue
                    events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                            verb=Verb.DOCUMENT_VIEWED, occurred_at=at, session_key=session))
                    rule, minimum = DOCUMENT_RULES.get(asset.external_id, (DocumentCompletion.VIEW, None))
                    if rule == DocumentCompletion.TIME and (user, asset.pk) not in read and rng.random() < 0.4 + 0.4 * s:
                        # kept open long enough: the server logs document.read once the time is credited
                        done_at = at + dt.timedelta(seconds=minimum + rng.randint(0, 240))
                        if done_at <= ctx.now:
                            read.add((user, asset.pk))
                            event = ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                              verb=Verb.DOCUMENT_READ, occurred_at=done_at, seconds=float(minimum),
                                              session_key=session)
                            event.event_id = reading_event_id(user_id=user, asset_id=asset.pk)
                            events.append(event)
                    if rng.random() < 0.55 + 0.3 * s:
                        events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=asset.pk,
                                                verb=Verb.DOCUMENT_DOWNLOADED,
                                                occurred_at=at + dt.timedelta(seconds=rng.randint(5, 90)),
                                                session_key=session))
                else:
                    if rng.random() < 0.14:  # nothing found
                        events.append(ctx.event(partner_id=p.pk, user_id=user, verb=Verb.FAQ_SEARCHED,
                                                occurred_at=at, query=rng.choice(zero), result_count=0,
                                                session_key=session))
                        continue
                    faq, queries = rng.choices(faqs, fw)[0]
                    if not ctx.existed(faq, at + dt.timedelta(seconds=5)):
                        continue
                    events.append(ctx.event(partner_id=p.pk, user_id=user, verb=Verb.FAQ_SEARCHED, occurred_at=at,
                                            query=rng.choice(queries), result_count=rng.randint(1, 3),
                                            session_key=session))
                    if rng.random() < 0.15:
                        continue  # searched, opened nothing
                    at += dt.timedelta(seconds=rng.randint(5, 60))
                    events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=faq.pk, verb=Verb.FAQ_VIEWED,
                                            occurred_at=at, session_key=session))
                    if rng.random() < 0.5:
                        helpful = rng.random() < (0.55 if faq.external_id == "faq-nfr-license" else 0.8)
                        events.append(ctx.event(partner_id=p.pk, user_id=user, asset_id=faq.pk,
                                                verb=Verb.FAQ_FEEDBACK, resolved=helpful,
                                                occurred_at=at + dt.timedelta(seconds=rng.randint(10, 120)),
                                                session_key=session))
    return events


def _refusals(ctx: _Ctx) -> None:
    """What an external LMS and an xAPI feed sent that ingestion refused (the measurement-health page)."""
    from collections import Counter

    from enablement.models import RefusalReason
    from enablement.validation import refusals_record

    for days_ago, source, reasons in (
        (1, EventSource.API, {RefusalReason.FUTURE: 3, RefusalReason.VERB_KIND: 2}),
        (4, EventSource.XAPI, {RefusalReason.BEFORE_ASSET: 5}),
        (9, EventSource.API, {RefusalReason.UNKNOWN_PARTNER: 1}),
    ):
        refusals_record(tenant=ctx.tenant, source=source, reasons=Counter(reasons), day=ctx.today - dt.timedelta(days=days_ago))


def seed(tenant, *, log=print) -> bool:
    if Asset.objects.filter(tenant=tenant).exists():
        return False
    rng = random.Random(f"{SEED}:enablement:{tenant.slug}")
    lang = tenant.default_language if tenant.default_language in TEAMS else "en"
    now = timezone.now()
    tz = tenant.zoneinfo
    ctx = _Ctx(tenant=tenant, rng=rng, lang=lang, now=now, today=now.astimezone(tz).date(), tz=tz)
    with transaction.atomic():
        Team.objects.bulk_create([Team(tenant=tenant, name=n) for n in TEAMS[lang]])
        teams = list(Team.objects.filter(tenant=tenant, name__in=TEAMS[lang]))
        teams.sort(key=lambda t: TEAMS[lang].index(t.name))
        admin = (Membership.objects.filter(tenant=tenant, role=Role.TENANT_ADMIN).order_by("id")
                 .values_list("user_id", flat=True).first())
        fallback_manager = (Membership.objects.filter(tenant=tenant, role__in=MANAGER_ROLES).order_by("id")
                            .values_list("user_id", flat=True).first())
        by_id = _assets(ctx, teams, admin_user := _user(admin))
        FaqSynonym.objects.bulk_create(
            [FaqSynonym(tenant=tenant, terms=terms, created_by=admin_user) for terms in FAQ_SYNONYMS[lang]]
        )
        faq_reindex(tenant=tenant)  # the assets were bulk-created (no save signal)
        partners = list(Partner.objects.filter(tenant=tenant).select_related("tier").order_by("id"))
        tiers = list(PartnerTier.objects.filter(tenant=tenant).order_by("rank", "id"))
        n_assign = _paths_and_assignments(ctx, by_id, tiers, partners, admin_user) if tiers else 0
        n_support = _support_activities(ctx, partners, fallback_manager)
        users_by_partner: dict[int, list[int]] = {}
        for partner_id, user_id in (Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER, is_active=True)
                                    .order_by("id").values_list("partner_id", "user_id")):
            users_by_partner.setdefault(partner_id, []).append(user_id)
        # A session that starts just before now runs on past it: nothing is logged ahead of the clock
        # (the rollup would leave such events for a later run, and the numbers would move by themselves).
        events = [e for e in _events(ctx, by_id, partners, users_by_partner) if e.received_at <= ctx.now]
        events.sort(key=lambda e: e.occurred_at)
        for i in range(0, len(events), EVENT_BATCH):
            activity_record_many(tenant=tenant, events=events[i:i + EVENT_BATCH])
        _refusals(ctx)
    log(f"  {tenant.slug}: {len(by_id)} assets, {n_assign} assignments, {n_support} support activities, "
        f"{len(events)} events")
    return True


def _user(user_id):
    from partners.models import User

    return User.objects.filter(pk=user_id).first() if user_id else None
