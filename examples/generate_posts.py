#!/usr/bin/env python3
"""Generate examples/posts.jsonl: demo social posts about a FICTIONAL carrier.

星空モバイル (Hoshizora Mobile) and all its products (星空光 / Hoshizora Hikari,
星空でんき, SoraPay / ソラペイ, HZ-A52, HZ-A53, HZ-S10 Pro, SR-300) are invented
for the Earshot demo.  Every base text below was written by hand for this file.

The output is fully deterministic: standard library only, fixed seed, no clock.
Run:  python3 examples/generate_posts.py   (writes examples/posts.jsonl)

Shape of the data (7 days, 2026-11-16 .. 2026-11-22 JST, stored as UTC):
  * brand posts from a pool of hand-written base texts (light variation only)
  * ~25% unrelated noise (daily life, other brands, 星空 = the night sky)
  * ~3% spam / ads, ~1% deliberately odd but valid posts
  * an outage burst on 2026-11-19 19:00-20:30 JST (~350 posts, mostly 関東)
  * ~150 conversation threads (same author 2-4 times), some answered by
    the official support account @hoshizora_help
  * a few verified influencers (100k+ followers) and the official accounts
"""

import collections
import datetime as dt
import json
import math
import os
import random

SEED = 20261119
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "posts.jsonl")


def L(block):
    """One text per non-empty line."""
    return [line.strip() for line in block.strip().splitlines() if line.strip()]

# =============================================================================
# hand-written base texts: 星空モバイル brand posts (Japanese)
# =============================================================================
JA_HIKARI = L("""
星空光、夜9時過ぎると急に遅くなる。動画がカクカク
星空光にしてから在宅会議で毎回音声が途切れる
1Gbpsって書いてあったのに実測30Mbps。星空光さん説明してください
星空光のルーターSR-300、ランプが赤とオレンジ交互に点滅してる
星空光、週末の夜は使い物にならない。マンションタイプだから？
オンラインゲームのPing 200超え。星空光ってこんなもん？
星空光の開通工事、3週間待ちと言われた。引っ越し後ネットなしで過ごせと
SR-300再起動しても速度戻らない。星空光はもう諦めた
星空光の速度、朝は爆速なのに夜は地獄
星空光に乗り換えたの後悔してる。前の回線の方が速かった
IPv6にしたら速くなるって言われたけど変わらん。星空光
星空光のWi-Fi、2階に全然届かない
星空光のサポート、速度の件で電話したら「ベストエフォートなので」で終了
子どもがオンライン授業中に星空光が切れた。先生に謝ったわ
星空光の速度測定、下り5Mbps。光とは
星空光、工事の日に担当の人来なかった。連絡もなし
星空光の解約金高すぎない？速度出てないのに
星空光のルーター交換してもらったのに改善しない
星空光の夜間速度、もはや3G並み
動画見てたら画質が勝手に下がる。星空光、夜は本当に遅い
星空光の営業電話、今週3回目。もう契約してるんだけど
星空光って集合住宅だとVDSLなの？知らなかった…遅いわけだ
星空光、テレワーク向きじゃないね。オンライン会議で何度も落ちる
SR-300が熱々になってる。大丈夫なのこれ
星空光、引っ越し手続きの案内がわかりにくすぎる
星空光が遅いので問い合わせたら「混雑時間帯です」だって。毎日混雑してるじゃん
星空光の工事費実質無料って、途中解約したら残債一括なのね。聞いてない
星空光、大雨の日だけ繋がりにくくなる気がする
星空光の回線速度、昼と夜で50倍違うの草
星空光にしてから動画の読み込みでイライラする日々
ゲームのアップデート40GBのダウンロードに6時間。星空光ェ…
星空光の速度改善まだですか？もう半年待ってる
「星空光 夜 遅い」で検索したら仲間がたくさんいた
星空光のルーター、勝手に再起動するんだけど
星空光、契約前は「どこでも快適」って言ってたよね
星空光の速度、今日は珍しく出てる。明日は雨かな
星空光、上りが遅すぎて動画のアップロードが終わらない
星空光のマンションプラン、住人が増えてから明らかに遅くなった
星空光、速度は出てるのにたまにDNSが引けなくなる謎
星空光のホームゲートウェイとSR-300の二重ルーター問題、誰か助けて
""")

JA_SORAPAY = L("""
ソラペイでコンビニ払おうとしたらエラー。結局現金
SoraPayのチャージ反映されてない。5000円どこ行った
ソラペイ、QRコード読み込んでも「通信エラー」ばっかり
SoraPayで二回引き落とされてるんだけど
ソラペイのポイント還元、まだ付与されてない。キャンペーン終わってるよね
SoraPayのアプリ、アップデートしたら起動しなくなった
ソラペイで払えなくてレジで冷や汗かいた
SoraPay、銀行口座の登録でずっとエラーになる
ソラペイの本人確認、3回やり直しさせられた
SoraPay使える店少なすぎ。結局他の決済アプリ入れてる
ソラペイの送金機能、相手に届くまで時間かかりすぎ
SoraPayのログイン、毎回SMS認証なのだるい
ソラペイ払いで割引って書いてあったのに割引されてない
SoraPayの残高、なんか減ってるんだけど。身に覚えのない決済がある
ソラペイで決済完了の画面出たのに、お店側では未決済扱い
SoraPay、月末になると重くなるのなんとかして
ソラペイのカスタマーサポート、チャットの返事が3日後
SoraPayのオートチャージ、勝手に2回チャージされた
ソラペイのアプリ、機種変したら残高引き継げないってマジ？
SoraPayのキャッシュバック、条件が複雑すぎてもらえなかった
ソラペイ、自販機で使おうとしたら反応しない
SoraPayの利用明細、どこから見ればいいのかわかりにくい
ソラペイで公共料金払おうとしたら上限超えって出た。上限低すぎ
SoraPay、タクシーで使えなかった。対応って書いてあったのに
ソラペイのポイント、期限切れで消えてた。通知くらいしてよ
SoraPayが遅くて後ろのお客さんに舌打ちされた
ソラペイ使ってるけど、正直メリットよくわからない
SoraPayのクーポン、表示されるだけで使えない
ソラペイの残高不足の通知、決済した後に来るの意味ある？
SoraPayでネット注文したら決済だけ通って注文が消えた
""")

JA_BILLING = L("""
星空モバイルから二重請求きてる。今月2回引き落とされてた
二重請求の件、星空モバイルに問い合わせて2週間。まだ返金されない
星空モバイルの請求額、先月より3000円高い。何も変えてないのに
解約したのに星空モバイルから請求が来た
星空モバイル、契約してないオプションが請求に入ってた
星空モバイルで買ったHZ-A52の分割、終わってるはずなのに請求されてる
星空でんきと星空モバイルのセット割、適用されてなかった
星空モバイルの請求明細に「その他利用料」ってあるけど何これ。説明してほしい
星空モバイルの請求書発行手数料、いつから有料になったの
二重請求の返金、「次回請求で相殺」って。星空モバイルさん、現金で返してよ
星空モバイル、日割り計算されてない。月末に契約したのに丸々1ヶ月分
星空モバイルの端末補償サービス、外したはずなのにまだ請求されてる
家族の分まで私の口座から引き落とされてる。星空モバイルどうなってるの
星空光の請求、工事費が二重で計上されてた
ポイントで払ったはずが、クレカにも請求来てる。ソラペイ経由で二重請求
星空モバイルの請求、毎月金額が違ってて怖い
Web明細に切り替えたのに星空モバイルから紙の請求書が届く。しかも手数料付き
星空モバイル、違約金なしって言ってたのに請求されたんだけど
星空モバイルのデータ使い放題プランなのに追加料金取られてる
星空でんきの請求、検針日と使用量が合ってない気がする
海外に行ってないのに星空モバイルからローミング料金が請求されてる
星空モバイル、請求の問い合わせ窓口が平日10時〜17時だけって無理ゲー
星空モバイルの二重請求、3ヶ月気づかなかった私も悪いけど…
支払い期限前なのに星空モバイルから督促のSMSきた。ちゃんと払ってるって
星空モバイル、二重請求の謝罪メールが来たけど返金はいつ？
星空モバイル、二重請求ってSNSで話題になってるけど自分も確認したらやられてた
星空光と星空モバイル、同じ月の料金が両方二重になってる。ひどすぎ
""")

JA_SHOP = L("""
星空モバイルのショップ、予約してたのに1時間待ち
星空モバイルの店員さん、オプション外したいって言ったら露骨に嫌な顔
星空モバイル渋谷店、機種変するだけで3時間かかった
星空モバイルの店員さんにeSIMのこと聞いたら「わからないです」で終わった
星空モバイルのショップでタブレット無料って言われて契約したら月額かかってた
星空モバイルの店舗、予約なしだと門前払いなのつらい
星空モバイルのショップ、高齢の父にいらないオプション山盛りで契約させてた
星空モバイルのショップの人に言われた通りにしたらLINEの引き継ぎ失敗した
星空モバイルのショップ、説明が早口すぎてついていけない
星空モバイルの店員がずっとタメ口でモヤモヤした
星空モバイルで修理受付したら「メーカー送りで2週間」。代替機もなし
星空モバイルのショップ閉店してた。最寄りの店まで電車で40分
星空モバイルの店頭で「オンラインの方が安いですよ」って言われた。正直すぎて草
星空モバイルのショップ予約システム、空きが全然ない
星空モバイルの店員さんが電話中で15分放置された
星空モバイルのショップで頭金1万1千円。オンラインなら0円なのに
星空モバイルのショップで解約したいって言ったら電話でしかできないって。逆でしょ
星空モバイルで機種変後の初期設定、有料サポートしかないって言われた
星空モバイル池袋店、スタッフ少なすぎて回ってない
星空モバイルの店員さんの説明と請求が違う。言った言わないになってる
星空モバイル仙台店、修理の受付時間が短すぎる
星空モバイルのショップで「本日の受付は終了しました」って15時に言われた
星空モバイルの店員さん、私じゃなくて夫にばかり説明してた。契約者は私です
星空モバイルのショップで機種変したら、フィルムの貼り方が雑で気泡だらけ
星空モバイルのショップ、子連れだと待合スペースが狭すぎる
星空モバイルのショップで聞いたら「サポートに電話して」、サポートに電話したら「ショップへ」。どっちよ
星空モバイルのショップの人、eSIMの設定ミスって結局2時間
星空モバイルの店頭の料金表と実際の請求が違う
星空モバイルのショップでキャンペーンの話を聞いたら「それはオンライン限定です」
星空モバイルのスマホ教室、行ったら中止になってた。連絡くらいしてよ
""")

JA_QUESTION = L("""
星空モバイルのeSIMって、iPhoneでもすぐ使えますか？
星空モバイルにMNPするとき、今のキャリアメールってどうなりますか
HZ-A53への機種変更、データ移行ってショップでやってもらえる？
星空モバイルの家族割、別住所の家族でも入れますか
星空光と星空モバイルのセット割って自動で適用される？
星空モバイルの5Gエリアって横浜まで来てる？
ソラペイって星空モバイルユーザーじゃなくても使えますか
星空モバイルの学割、22歳でも対象になりますか
SR-300ってメッシュWi-Fi対応してますか？
星空モバイル、海外ローミングの料金っていくらですか
星空モバイルで機種変更するとき、今のSIMカードはそのまま使えますか
MNP予約番号って星空モバイルのアプリから取れる？
星空モバイルのギガ、余ったら翌月繰り越しできますか
星空でんきって一人暮らしでも安くなりますか
HZ-S10 ProとHZ-A53、カメラ性能どっちがいい？
星空モバイル、データ無制限プランってありますか
星空モバイルでeSIMからSIMカードに戻すことってできますか
星空光の工事って賃貸でも大丈夫ですか。大家さんの許可いる？
星空モバイルの契約、未成年だと親の同伴必要ですか
ソラペイの残高って銀行口座に戻せますか？
星空モバイルの下取り、画面割れてても大丈夫？
星空モバイルのテザリングって追加料金かかる？
HZ-A52からHZ-A53にしたらバッテリー持ちよくなりますか
星空モバイルのオンラインショップって土日も発送してる？
星空光の速度、戸建てとマンションでどれくらい違うんですか
星空モバイル、SIMのみ契約でもキャンペーン対象ですか
星空でんきに切り替えたら、今の電力会社の解約手続きっている？
星空モバイルのショップって平日の夜でも空いてますか
星空モバイルの料金プラン、どれが一番安いの？月3GBくらいしか使わない
ソラペイのポイントって星空モバイルの料金支払いに使える？
星空モバイル、法人契約もできますか
星空モバイルの通話かけ放題、1回何分まで無料？
SR-300の設定画面のパスワードって何だっけ。初期値どこに書いてある？
星空モバイルの留守番電話って有料ですか
海外で買ったスマホ、星空モバイルのSIMで使えますか
星空モバイルのキャリアメールって解約後も使える？
星空光から他社に乗り換える時、違約金いくらかかりますか
HZ-S10 Pro、おサイフケータイ対応してますか
星空モバイルのサポートチャットって何時まで？
ソラペイの利用上限ってどこで変更できますか
MNPで星空モバイルに来たら、番号そのままでLINEも引き継げる？
星空モバイルの端末補償、水没もカバーしてますか
星空モバイルのプラン変更、月の途中でもできますか
星空モバイルのeSIM再発行って手数料かかる？
星空モバイルの名義変更ってオンラインでできますか。親から自分に変えたい
星空光の開通までの間、モバイルルーター貸してもらえますか
星空モバイルで買ったHZ-A52、SIMロック解除必要？
星空モバイル、60歳以上向けのプランってあります？
ソラペイって交通系ICにチャージできる？
星空でんきとガスのセットってある？
ソラペイのアカウント、家族で共有できますか
HZ-A53って防水ですか？お風呂で使いたい
星空モバイルのショップで料金の支払いだけってできる？
星空モバイルのeSIM、クイック転送に対応してる？
星空モバイルってデュアルSIMで副回線にできますか
星空光の解約、ルーターの返送期限っていつまで
""")

JA_REQUEST = L("""
星空モバイルさん、通話かけ放題のオプションもう少し安くしてください
ソラペイ、早くタクシーアプリ対応してほしい
星空光の夜の速度、なんとかしてください。お願いします
星空モバイルのアプリ、ダークモード対応希望
@hoshizora_help 解約手続きの方法、DMで教えてください
星空モバイルのショップ、日曜も19時まで開けてほしい
SR-300のファームウェア更新、自動にしてほしい
ソラペイの利用明細、CSVでダウンロードできるようにして
星空モバイル、データ繰り越しを2ヶ月に延ばしてください
@hoshizora_help 二重請求分の返金、早めにお願いします
HZ-A53の新色、ピンク出してほしい
星空でんきの使用量、アプリで時間ごとに見られるようにしてほしい
星空モバイルのショップ予約、LINEからできるようにしてほしいな
星空モバイルのキャリアメール、迷惑メールフィルタもっと強くして
@hoshizora_mobile 地方にも5Gエリア広げてください！
ソラペイのポイント有効期限、延ばしてほしい
星空光の工事日、土日も選べるようにしてください
星空モバイルのサポート、電話じゃなくてチャットで完結させてほしい
ソラペイ、割り勘機能つけてほしい
@hoshizora_help 機種変更の予約を変更したいです。対応お願いします
星空モバイル、学割を社会人1年目まで拡大して…
HZ-S10 ProのOSアップデート、早く配信してください
星空モバイル、紙の請求書の手数料は高齢者だけでも無料にしてほしい
星空モバイルのエリアマップ、もっと細かく表示してほしい
@hoshizora_help 住所変更をお願いしたいのですが、手続き方法を教えてください
ソラペイ、残高の出金手数料なくして
星空光の速度、プランごとの実測値を公開してほしい
星空モバイル、家族割の人数上限を増やしてください
星空モバイルの店員さん向けに、eSIMの研修をしてあげてほしい
星空モバイル、障害の時はアプリのプッシュ通知で知らせてほしい
星空でんきのポイント、SoraPayに交換できるようにしてほしい
SR-300の後継機、Wi-Fi 7対応でお願いします
星空モバイルの解約、オンラインでできるようにしてください
@hoshizora_help 請求内容の確認をお願いします。先月分が二重になっています
""")

JA_PRAISE = L("""
星空モバイルのショップのお姉さん、機種変のデータ移行を最後まで手伝ってくれた。神対応
@hoshizora_help 迅速なご対応ありがとうございました！無事解決しました
星空モバイルにしてから月のスマホ代が半分になった。もっと早く変えればよかった
星空光、時間帯関係なく速い。乗り換えて正解
ソラペイの20%還元でめっちゃお得に買い物できた
HZ-A53のカメラ、夜景がめっちゃきれいに撮れる📸
星空モバイルのサポートチャット、5分で解決してくれた。ありがとう！
星空モバイル新宿店の田中さん、丁寧に説明してくれて本当に助かりました
SR-300に変えたら家中どこでもWi-Fiサクサク
星空でんきに切り替えたら電気代安くなった！
ソラペイ、レジでの決済が一瞬。もうこれなしでは無理
星空モバイルの電波、地下鉄でも途切れなくなった気がする
HZ-S10 Pro、バッテリー2日持つ。最高
星空モバイルのeSIM、アプリで10分で開通。簡単すぎて感動
星空モバイルのショップの店員さん、高齢の母に根気よくスマホの使い方を教えてくれた。感謝しかない
星空モバイル、悪くないじゃん。安いし普通に繋がる
星空光のサポートの方、夜遅くまで設定に付き合ってくれました。感謝です🙏
ソラペイの割り勘送金べんりーー
二重請求の件、星空モバイルさんがすぐ返金してくれた。対応は誠実だった
星空モバイルの家族割、4人で月5000円以上安くなった
HZ-A52、2年使ってるけどまだサクサク
@hoshizora_mobile いつも快適に使わせてもらってます！
星空モバイルのショップ、待ち時間ほぼゼロで手続き完了。神
星空光の工事の人、めちゃくちゃ丁寧に配線してくれた
ソラペイのチャージ、銀行からすぐ反映されて便利
星空モバイルのサポートの人、こっちのミスなのに謝ってくれて申し訳なくなった
星空モバイルに乗り換えて半年、不満ゼロ
HZ-S10 Proの画面きれいすぎる✨
星空でんきのアプリ、使用量がわかりやすくて節電がんばれる
星空モバイルのキャンペーンで機種代実質1円。ありがたい
ソラペイ使えるお店増えてきて嬉しい
星空モバイルの店員さんに勧められたプラン、本当に安くなった。疑ってごめん
星空光、オンラインゲームのラグなくなった！最高ｗｗ
星空モバイル、災害の時に無料で充電させてくれたの忘れない
@hoshizora_help 親切に教えていただきありがとうございます。助かりました
星空モバイルのアプリ、使いやすくなったね
星空モバイル、通話品質いい。声がクリア
SR-300、設定がスマホだけで完結して楽ちん
星空モバイルのサポート、電話すぐ繋がった。珍しい
ソラペイのポイントで星空モバイルの料金払えるの便利すぎ
HZ-A53買った。ケースも充実してて満足
星空モバイル梅田店のスタッフさん、神対応でした。ありがとうございます
星空でんき、契約手続き5分で終わった
星空モバイル、海外ローミング設定なしで使えて助かった
ソラペイのサポートに問い合わせたら、すぐ返金手続きしてくれた
星空光にしてからテレワーク快適。会議で固まらなくなった
星空モバイルの新プラン、正直悪くない
星空モバイルのショップで落とした財布、ちゃんと保管してくれてた。ありがとうございます
HZ-S10 Proの望遠カメラで子どもの運動会撮った。最高の思い出
星空モバイル、5年使ってるけど大きなトラブルなし
星空モバイル名古屋店の店員さん、閉店間際なのに嫌な顔ひとつせず対応してくれた
星空モバイルのショップのスタッフさんが、不要なオプション外しましょうかって提案してくれた。良心的
星空モバイルのショップ、キッズスペースあって助かった
星空モバイルの店員さん、機種変のついでに写真のバックアップまで手伝ってくれた
HZ-A53の画面割れ、星空モバイルのショップで即日交換してもらえた。神対応すぎる
星空モバイル、問題ありません。むしろ前より快適
""")

JA_NEUTRAL = L("""
星空モバイルの新しいCM、よく見かける
今月の星空モバイルの請求、3,280円だった
明日、星空光の工事。午前中は家にいなきゃ
星空モバイルのショップ、駅前に移転したらしい
HZ-A53の発売日っていつだっけ
星空モバイルとほかのキャリア、どっちにしようか迷い中
ソラペイの新しいキャンペーン始まったみたい
星空でんきの検針票がきた
機種変更でHZ-S10 Pro予約した
星空モバイルの株主総会、来月らしい
星空光に申し込んだ。開通は来月
星空モバイルに乗り換えるか検討中
HZ-A52とHZ-A53の違い、比較記事読んでる
ソラペイのアプリ入れてみた
星空モバイルのキャリア決済で本買った
星空でんきに切り替えの申し込みした
今日は星空モバイルのショップで機種変してくる
星空モバイルの料金プラン、来年から改定らしい
SR-300、箱が思ったより小さかった
星空モバイルのポイント、3000ptたまってた
HZ-S10 Proのケース何にしよう
星空モバイルからアンケートきた
母のスマホを星空モバイルに乗り換えさせる予定
星空光の速度測ってみた。下り420Mbps
星空モバイルのニュース、ネットで話題になってる
ソラペイで缶コーヒー買った
星空モバイルの店舗、年末は営業時間短縮だって
星空モバイルからメール来てた。規約変更のお知らせ
HZ-A53、色はミッドナイトブルーにした
星空モバイルの新社長、インタビュー記事出てた
HZ-S10 Proに機種変更する前にバックアップ取らなきゃ
星空でんきとソラペイ、両方使ってる
星空モバイルのeSIM、来週切り替える予定
SR-300の設置完了。配線すっきり
星空モバイルの料金、口座振替からクレカ払いに変えた
ソラペイの残高、1,200円
星空モバイルのショップ、今日は空いてた
星空モバイルで機種変した友達、HZ-S10 Proにしてた
星空モバイルの店員さんに勧められてHZ-A53にした
SoraPayのアプリ、アイコン変わった？
星空モバイルのロゴ、新しくなってる
ホシゾラモバイルって星空モバイルのこと？
英語表記だとHoshizora Mobileなんだ
会社の支給スマホ、星空モバイルのHZ-A52だった
星空モバイルの紙袋、地味にかわいい
""")

JA_CAMPAIGN = L("""
星空モバイル、冬のギガ増量キャンペーン始まったね。30GBが40GBに
ソラペイで20%還元キャンペーン、11月22日まで！
#星空モバイル ブラックフライデーでHZ-A53が2万円引き
星空光の新規申し込みで工事費無料キャンペーン中らしい
ソラペイ、初回チャージで500円分もらえる
星空モバイルのMNPキャンペーン、最大2万ポイント還元
星空でんき、紹介キャンペーンで電気代1か月無料だって
#ソラペイ 週末はコンビニで10%還元
星空モバイルのキャンペーン、条件複雑すぎてよくわからん
星空モバイルの学割キャンペーン、今年は早めに始まった
HZ-S10 Pro、予約特典でワイヤレスイヤホンもらえる
星空モバイルのキャンペーンでソラペイ3000円分もらった
ソラペイのキャンペーン、上限すぐ到達して終了してた。早すぎ
星空モバイル × 星空光のセット割キャンペーン、月1100円引き
星空モバイルのキャンペーンコード、どこに入力するの？
#星空モバイル フォロー＆リポストでHZ-A53が当たるキャンペーンやってる
ソラペイのくじ、また外れた
星空モバイル、乗り換えキャンペーンのポイントまだ付与されてない
ブラックフライデー、星空モバイルのオンラインショップ混みすぎ
星空でんきのキャンペーン、ソラペイ払いで2%還元
星空モバイルの10周年キャンペーン、何かもらえるのかな
ソラペイ還元キャンペーン、対象店舗のリストわかりにくい
星空モバイル、キャンペーンに釣られて乗り換えた
SR-300プレゼントキャンペーン、応募してみた
星空モバイルの年末キャンペーン予告きてる
ソラペイの20%還元、ドラッグストアでまとめ買いしてきた
""")

JA_DEVICE = L("""
HZ-A53、発熱がひどい。ゲーム10分で熱々
HZ-A52のバッテリー、2年でへたってきた
HZ-S10 Pro、アップデートしたら指紋認証の反応悪くなった
HZ-A53の画面、すぐ傷つく。ガラスフィルム必須
HZ-A52が急に再起動を繰り返す。星空モバイルに修理出すか
HZ-S10 Proのカメラ、暗所だとノイズすごい
SR-300、夜中にWi-Fiが切れる
HZ-A53の充電、遅くない？急速充電対応のはずなのに
HZ-S10 Pro、重すぎて片手で持てない
HZ-A52、OSアップデートが来なくなった
HZ-A53のスピーカー、音量上げると音が割れる
SR-300のファン、うるさい
HZ-S10 Pro買ったけど、前のスマホとあんまり変わらない
HZ-A53、電池持ちは良い
HZ-A53のおサイフケータイ、設定がわかりにくい
HZ-S10 Pro、画面割れ修理で3万円って言われた
SR-300のLANポート、1個しかないの不便
HZ-A52、ストレージ足りなすぎ
HZ-A53のケース、100均でも売ってた
HZ-S10 Pro、ゲーム性能は申し分なし
HZ-A53の顔認証、マスクだと全然ダメ
HZ-A52のイヤホンジャック、地味にありがたい
SR-300、アプリで設定できるのは楽
HZ-S10 Proのアップデートで電池持ち改善された
HZ-A53、カメラアプリの起動が遅い
HZ-A53でGPSがずれる。地図アプリで迷子になった
HZ-S10 Pro、初期不良で交換。2台目は今のところ大丈夫
SR-300とHZ-A53の組み合わせ、Wi-Fi 6で爆速
HZ-A52の画面、日光の下だと見えにくい
HZ-S10 Proの付属品、充電器なし。今どきそうか
""")

JA_DENKI = L("""
星空でんきの電気代、先月より4千円高い
星空でんき、燃料調整費ってこんなに上がるの？
星空でんきに変えて3ヶ月、前の電力会社より年間1万円くらい安くなりそう
星空でんきのアプリで毎日の電気代見られるの便利
星空でんきの申し込み、マンションでもできた
星空でんき、検針票が届かない。Web明細だけ？
星空でんきのサポートに電話したら40分待ち
星空でんきのポイント、いつもらえるの
星空でんき、夜間割引プランに変えたい
星空でんきの請求額、スマートメーターの数値と合わない
星空でんき、解約したいけど手続きどこから
星空でんきとセットでスマホ代も安くなった
星空でんきの節電チャレンジ、参加してみた
星空でんき、引っ越しの手続き簡単だった
星空でんきの料金改定のお知らせ来てた。値上げかー
星空でんき、再エネプランってあるんだ
星空でんきの電気代、エアコンつけ始めて一気に上がった
星空でんきの使用量グラフ、見てるとおもしろい
星空でんき、契約アンペアの変更って電話しかないの？
""")

JA_MISC = L("""
星空モバイルのアプリ、ログインのたびにパスワード聞かれる
@hoshizora_help 問い合わせフォームの返信がまだ来ません
星空モバイルのサポート、電話が全然繋がらない。30分保留
星空モバイル、解約の引き止めがしつこい
星空モバイル、メルマガ解除しても届く
星空モバイルのアプリ、動作が重すぎる
星空モバイル、料金プランが複雑すぎて比較できない
星空モバイルのチャットボット、質問と関係ない答えばかり
星空モバイルからの営業電話、断ってるのに毎月来る
星空モバイル、キャリアメールの迷惑メール多すぎ
星空モバイルのサポートでたらい回しにされた
星空モバイル、ポイントの使い道が少ない
星空モバイルの公式サイト、目的のページにたどり着けない
星空モバイルのマイページ、メンテ多すぎない？
星空モバイル、乗り換えた途端に料金上がった
星空モバイル、電話口の人によって言うことが違う
星空モバイルのサポート、素晴らしいですね。3回電話して3回とも違う回答でした
さすが星空モバイル、今日もサポートに繋がるまで45分。安定してますね
""")

JA_OUTAGE_MINOR = L("""
星空モバイル、さっき一瞬圏外になった。すぐ戻ったけど
星空光、夜中に10分くらい切れてた
ソラペイ、さっきメンテ中で使えなかった
星空モバイルの電波、地下鉄の駅でだけ圏外になる
星空光、今朝ルーターのランプが赤だった。再起動で直った
星空モバイル、このあたりだけずっと電波弱いんだけど。基地局どこ
ソラペイ、決済が通るまで30秒かかった。サーバー重い？
星空光、今日は何回も切れる。工事でもしてるの？
星空モバイル、山の上で圏外だった。まあ仕方ない
星空モバイルのアプリにログインできない。メンテ？
ソラペイ、チャージボタン押してもぐるぐるしたまま
星空モバイル、今日は通話がやたら途切れる
星空光が切れて、スマホのテザリングでしのいでる
""")

# hand-written base texts: brand posts (English)
EN_HIKARI = L("""
Hoshizora Hikari is painfully slow every evening after 9pm
Paying for 1Gbps on Hoshizora Hikari and getting 25Mbps. Not great
My SR-300 router keeps dropping Wi-Fi at night
Hoshizora Hikari install took 4 weeks to schedule. Moving to Tokyo without internet is fun
Video calls with family back home freeze every night on Hoshizora Hikari
Is Hoshizora Hikari slow for everyone in the evening or just my building?
The SR-300 gets really hot, is that normal?
Hoshizora Hikari support told me to "wait for off-peak hours". Seriously?
Hoshizora Hikari speed test at 10pm: 8Mbps down. Fiber, they said
Ping spikes every night on Hoshizora Hikari, ranked games are unplayable
Hoshizora Hikari technician never showed up for the install. No call, nothing
Apparently my building only has VDSL for Hoshizora Hikari. Would have been nice to know before signing
Uploading a 2GB video on Hoshizora Hikari has taken 3 hours so far
The SR-300 reboots itself randomly, usually in the middle of a call
Hoshizora Hikari cancellation fee is steep for a service that barely works at night
Hoshizora Hikari router SR-300 lights are all orange, support line is closed until Monday
""")

EN_SORAPAY = L("""
SoraPay failed at the konbini again, had to pay cash
SoraPay charged me twice for one coffee
Topped up 5,000 yen on SoraPay and it's not showing in my balance
SoraPay app won't accept my foreign credit card
SoraPay's identity check rejected my residence card 4 times
SoraPay QR scan keeps timing out at the register
Why does SoraPay need SMS verification every single login?
SoraPay cashback still hasn't arrived, the campaign ended two weeks ago
SoraPay says the payment went through, the shop says it didn't. Who do I believe
The SoraPay app is Japanese only and I keep tapping the wrong button
SoraPay transfer to my friend has been "processing" since yesterday
SoraPay auto top-up charged my card twice this morning
SoraPay keeps asking me to re-register my card after every update
""")

EN_BILLING = L("""
@hoshizora_mobile I was charged twice this month, please check my account
Hoshizora Mobile double billed me for November. Still waiting on a refund
My Hoshizora Mobile bill jumped 3,000 yen with no explanation
Cancelled my Hoshizora Mobile contract and still got a bill
Why is there a "universal service fee" on my Hoshizora Mobile bill?
Got charged for roaming in Korea by Hoshizora even though I turned roaming off
The Hoshizora Mobile bill is all in Japanese and I can't read any of it
Hoshizora Mobile charged me a paper bill fee after I switched to e-billing
My HZ-A52 installments were supposed to end last month, Hoshizora is still charging me
Hoshizora Mobile billed me for an insurance add-on I removed in August
Double charge on Hoshizora Hikari too. Is anyone checking these bills?
""")

EN_SHOP = L("""
Waited 2 hours at the Hoshizora Mobile shop just to get a new SIM
Hoshizora shop told me to call support, support told me to go to the shop
The Hoshizora Mobile store clerk tried to upsell me 4 add-ons I didn't need
Hoshizora support hung up on me when I asked for English
No English support on the Hoshizora hotline after 6pm. Tough for foreigners
The Hoshizora Mobile shop in Ikebukuro said they can't do eSIM for foreigners. That's not even true
Hoshizora Mobile shop needed my passport, residence card AND a utility bill. Took three visits
Went to Hoshizora Mobile for a repair, they quoted 3 weeks with no loaner phone
The Hoshizora Mobile staff were nice but nobody knew how to activate the eSIM
Hoshizora Mobile store closed early without any notice online
""")

EN_QUESTION = L("""
Can I get a Hoshizora Mobile eSIM as a tourist?
Does Hoshizora Mobile need a Japanese bank account for monthly billing?
How do I port my number from another carrier to Hoshizora Mobile?
Is the HZ-S10 Pro worth the upgrade from the HZ-A52?
Does Hoshizora Mobile have English-speaking staff in Osaka?
What's the cheapest Hoshizora Mobile plan for someone who mostly uses Wi-Fi?
Can I use my unlocked iPhone with a Hoshizora Mobile SIM?
Does Hoshizora Mobile offer international calling plans?
How long does MNP take with Hoshizora Mobile?
@hoshizora_help can I change my plan mid-month?
Is the HZ-A53 waterproof?
Does SoraPay work with foreign cards yet?
Can I pause my Hoshizora Mobile plan while I'm abroad for 3 months?
Do I need a hanko to sign up for Hoshizora Hikari?
Does Hoshizora Mobile roaming work in Korea?
What documents does Hoshizora Mobile need from a student visa holder?
Can I set up Hoshizora Denki online in English?
Does the SR-300 support WPA3?
Does the HZ-S10 Pro support dual eSIM?
How much is the cancellation fee for Hoshizora Hikari?
Is Hoshizora Mobile's 5G available in Fukuoka yet?
Can I pay my Hoshizora Mobile bill with SoraPay points?
Which is better for a family of four, Hoshizora Mobile's family plan or separate SIM-only plans?
Does Hoshizora Hikari come with a static IP option?
Anyone know if the HZ-A53 supports 5G on all Hoshizora bands?
Is there a Hoshizora Mobile shop near Shinagawa station?
Can Hoshizora Denki be set up before I move in?
Does Hoshizora Mobile have a prepaid option for short stays?
@hoshizora_help is there a way to get my bill in English?
""")

EN_REQUEST = L("""
@hoshizora_mobile please add an English version of the billing page
Hoshizora Mobile, please let us do MNP fully online, the shop trip is a pain
Please make the SoraPay app support English 🙏
@hoshizora_help please call me back about my bill, I've been waiting 3 days
Hoshizora Mobile, please extend English support hours
@hoshizora_help please send me a replacement SIM, mine stopped working
Please cancel my Hoshizora Hikari contract effective end of month
Hoshizora Mobile, please add Apple Watch support for eSIM
Would love a Hoshizora family plan that doesn't require everyone at the same address
@hoshizora_help please escalate my case, ticket number in DM
SoraPay please let us top up with foreign cards
Hoshizora Hikari, please publish real evening speeds instead of "up to 1Gbps"
@hoshizora_help please refund the double charge on my November bill
""")

EN_PRAISE = L("""
Hoshizora Mobile shop in Shibuya had English-speaking staff, made switching so easy
Staff at Hoshizora Mobile Shinjuku walked me through everything in English. Amazing service
Hoshizora Mobile support was super patient with my terrible Japanese, thank you
@hoshizora_help thanks for sorting out my eSIM so quickly!
Hoshizora Mobile staff helped me set up my bank app too. Above and beyond
Switched to Hoshizora Mobile and my bill dropped by half. Should've done it sooner
The HZ-A53 camera is honestly great for the price
Hoshizora Mobile's signal in the mountains was surprisingly strong
The HZ-S10 Pro battery lasts two full days
Hoshizora Hikari is blazing fast now that they upgraded my building
Love how easy the Hoshizora Mobile app makes everything
Hoshizora Mobile got my eSIM running before I even left the airport
Not bad at all, Hoshizora Mobile. The new plan is cheaper and faster
Hoshizora Denki saved me about 1,500 yen a month vs my old provider
Credit where it's due, Hoshizora fixed my billing issue in one call
SoraPay is so convenient, paid for groceries in 2 seconds
Got 20% back with SoraPay at the drugstore, nice
SoraPay support answered my English chat in 5 minutes. Impressed
Hoshizora refunded my double charge within a week, thanks
Finally got Hoshizora Hikari installed, the technician was super polite
Hoshizora Hikari has been rock solid for me, gaming with zero lag
SR-300 setup was easy, done in 10 minutes with the app
Shoutout to the Hoshizora Mobile staff in Umeda who stayed late to fix my transfer
The HZ-S10 Pro zoom camera is ridiculous, got the moon in focus
Hoshizora Mobile gave me a loaner phone while my HZ-A53 was repaired. Nice touch
Hoshizora Denki's app is actually in English. Small thing, big difference
""")

EN_NEUTRAL = L("""
Signed up for Hoshizora Mobile today
Picking up my HZ-S10 Pro tomorrow
Hoshizora Mobile has a new ad campaign on the Yamanote line
Moving to Hoshizora Hikari next month
Comparing Hoshizora Mobile plans with my current carrier
Hoshizora Mobile is running a Black Friday sale on the HZ-A53
SoraPay just launched a 20% cashback campaign until Nov 22
Got my SR-300 router in the mail
First month with Hoshizora Denki, let's see the bill
Hoshizora Mobile apparently has 10 million users now
My company phone is a Hoshizora HZ-A52
Reading reviews of the HZ-A53 vs HZ-S10 Pro
Hoshizora Mobile's new CEO was on the news tonight
Set up SoraPay today, mostly for the konbini
Hoshizora Hikari installer coming Saturday morning
Hoshizora Mobile shop next to my office just reopened after renovation
Bought an HZ-A53 case at the 100 yen shop
""")

EN_MISC = L("""
Hoshizora Mobile app logs me out every day
The Hoshizora Mobile website is impossible to navigate in English
Hoshizora Mobile keeps sending me marketing SMS even after I opted out
Hoshizora Mobile's chatbot only understands Japanese. Not helpful
HZ-A53 overheats when I use Google Maps for more than 10 minutes
HZ-A52 stopped getting updates, that was fast
Hoshizora Mobile raised prices again, third time this year
Great, Hoshizora Mobile hold time is now 50 minutes. Love that for me
Oh nice, another Hoshizora Mobile "system maintenance" during lunch. Very convenient
Why does every Hoshizora Mobile form need a furigana field, even for my English name?
Hoshizora Mobile emailed me a survey about a support call that never happened
""")

EN_OUTAGE_MINOR = L("""
Hoshizora Mobile dropped to no signal for a few minutes in Shibuya, back now
SoraPay was down for maintenance at lunchtime, annoying
Hoshizora Hikari went out for 10 minutes last night
Hoshizora Mobile signal in my apartment is always weak, one bar at best
""")

EN_CAMPAIGN = L("""
Hoshizora Mobile winter data boost is live, 30GB plans get 40GB
SoraPay 20% back at konbini this weekend, stacking it with points
Black Friday: HZ-A53 is 20,000 yen off at Hoshizora Mobile
Hoshizora Hikari waiving the install fee this month if anyone was waiting
Hoshizora Mobile MNP campaign gives up to 20,000 points, tempting
Entered the Hoshizora Mobile repost giveaway for an HZ-A53, wish me luck
""")

# --- outage burst, 2026-11-19 19:00-20:30 JST --------------------------------
JA_BURST = L("""
星空モバイル圏外なんだけど
星空モバイル、電話もネットも全く繋がらない
星空モバイル通信障害？アンテナ0本
星空モバイル死んでる
急に圏外になった。星空モバイルだけ？
家族全員星空モバイルで全員圏外
電話かけられない。星空モバイル障害？
ソラペイ使えない。レジでエラー。これも障害のせい？
星空モバイル、「SOSのみ」って表示される
星空モバイル繋がらないの私だけじゃなかった
通信障害で仕事の電話受けられない。星空モバイルどうしてくれるの
星空モバイル、再起動しても圏外のまま
星空モバイル、Wi-Fiならいけるけどモバイル回線全滅
星空モバイルの障害、公式からまだ何もアナウンスない
@hoshizora_mobile 障害情報出してください
星空モバイル、SMSも送れない
子どもと連絡取れない。星空モバイル早く直して
星空モバイル圏外で待ち合わせ相手と連絡取れない
星空モバイル、機内モードのオンオフしても無理
星空光は大丈夫だけどスマホは圏外。星空モバイル障害っぽい
ソラペイで決済できなくてコンビニで立ち往生
星空モバイルの障害、もう30分以上
救急車呼べなかったらどうするの。星空モバイル頼むよ
草、星空モバイル全滅
星空モバイル通信障害、トレンド入りしてる
#星空障害 でトレンド見に来た。みんな圏外なのね
星空モバイル止まってるの関東だけ？
うちの区だけ？星空モバイル圏外
星空モバイル、電話が「ただいま大変混み合っております」
星空モバイルのアプリも開かない。障害情報すら見られない
HZ-A53が壊れたのかと思って初期化しかけた。星空モバイルの障害だった
星空モバイル障害で仕事の連絡全部止まった
星空モバイル繋がらないからタクシー呼べない
LINE送れない…星空モバイル…
障害情報まだ？星空モバイル
星空モバイル、今日のは大規模っぽい
ｱﾝﾃﾅ立ってないｗｗｗ星空ﾓﾊﾞｲﾙｗｗｗ
星空モバイル使ってる人みんな圏外っぽい
会社の携帯も私用も星空モバイルで詰んだ
ソラペイでレジが止まってる。店員さんも困ってた
ソラペイが「通信エラー」。お店の人に現金でって言われた
駅の売店でソラペイ払えない人が列になってる
星空モバイル、データ通信だけ死んでる。通話はギリいける
4G表示なのに何も読み込まない。星空モバイル
星空モバイル、二段階認証のSMS届かなくて銀行アプリに入れない
星空モバイル障害のせいでオンライン会議から落ちた
星空モバイルの障害中に地震来たら緊急速報届くのかな。不安
星空モバイル、HZ-S10 Proでも圏外。機種関係なさそう
星空モバイル圏外、コンビニのWi-Fiに避難してる
星空モバイルの通信障害、いつ直るの？
星空モバイル、通話中に突然切れてそのまま圏外
星空モバイル、障害ならせめて公式で言って
ソラペイ死んでて晩ご飯買えない。現金持ってない
SoraPay 使えない。決済エラー連発
夜の帰宅ラッシュに星空モバイル全滅はきつい
星空モバイル、マジで何も繋がらん
星空モバイル圏外。電車の遅延情報も見られない
星空モバイル、ずっと「圏外」表示。SIM抜き差ししてもダメ
SR-300は生きてるから家では平気。外の人は大変だろうな星空モバイル
星空モバイルの障害で、デリバリーの配達員さんと連絡つかない
星空モバイル、繋がらないから公衆電話探してる。令和なのに
星空モバイル通信障害で店の決済端末も止まった。現金のみ対応中
星空モバイルのサポートに電話しようにも、その電話が繋がらない
星空モバイル障害、親に連絡できない。心配してるだろうな
@hoshizora_help 圏外のままです。いつ復旧しますか
@hoshizora_mobile 通信障害ですよね？状況教えてください
星空モバイル、障害の規模どれくらいなんだろ
ソラペイが通らなくてセルフレジで詰んだ
星空モバイル圏外、待ち合わせ場所で30分立ちっぱなし
星空モバイルの障害、東京だけじゃなくて神奈川も？
星空モバイル、まだ圏外。もう1時間
星空モバイル、電波復活したと思ったらまた圏外
星空モバイルが死んでるせいでマップも開けない。迷子
""")

JA_BURST_LATE = L("""
星空モバイル、まだ繋がらない。1時間超えた
障害発生から1時間以上。星空モバイル復旧見込みはまだ？
星空モバイル、アンテナ1本立った。復旧し始めた？
星空モバイル、少しずつ戻ってきたっぽい
電話はできるようになったけど、データがまだ遅い。星空モバイル
ソラペイ使えるようになった？さっきまでエラーだった
""")

EN_BURST = L("""
Hoshizora Mobile is down? No signal at all in Shibuya
Anyone else on Hoshizora Mobile with zero bars right now?
Hoshizora Mobile outage, can't call or text
SoraPay not working at the konbini, the cashier says the whole system is down
My phone says SOS only. Hoshizora Mobile down in Tokyo?
Hoshizora Mobile network down in Yokohama, can't reach my wife
Hoshizora Mobile down for 40 minutes now, no update from @hoshizora_mobile
Can't get a taxi, can't pay, can't call. Thanks Hoshizora Mobile
Whole office on Hoshizora Mobile lost signal at the same time
Hoshizora Mobile outage is trending in Japan, glad it's not just me
@hoshizora_help is there an outage? No service in Kawasaki
No signal on my HZ-A53 and restarting does nothing. Hoshizora Mobile down?
Hoshizora Mobile is completely dead in Saitama, calls fail instantly
Stuck at the station with no Hoshizora Mobile signal and SoraPay won't work either
Hoshizora Mobile outage right at rush hour. Great timing
Hoshizora Mobile data is down but calls sort of work?
Hoshizora Mobile still down. Any ETA?
Can't reach my kids because Hoshizora Mobile is out. Please fix this fast
Hoshizora Mobile went down mid-call with a client. Brilliant
Konbini staff are turning away SoraPay customers, outage apparently
""")

JA_LOC = {
    "tokyo": L("""
東京、
都内、
渋谷で
新宿駅、
池袋、
品川、
世田谷区、
練馬区、
江東区、
八王子、
立川、
吉祥寺、
上野で
中野、
大田区、
"""),
    "kanagawa": L("""
横浜駅、
川崎、
相模原、
藤沢、
横須賀、
みなとみらいで
武蔵小杉、
厚木、
"""),
    "saitama": L("""
さいたま市、
大宮駅、
川越、
所沢、
川口、
浦和、
"""),
    "other": L("""
千葉、
船橋、
柏、
宇都宮、
"""),
}
EN_LOC = {
    "tokyo": ["Tokyo: ", "In Shinjuku, ", "Shibuya here, ", "Meguro: "],
    "kanagawa": ["Yokohama: ", "Kawasaki here, "],
    "saitama": ["Saitama: ", "Omiya: "],
    "other": ["Chiba: "],
}
LOC_WEIGHTS = {"tokyo": 62, "kanagawa": 20, "saitama": 13, "other": 5}

JA_AFTERMATH_NOW = L("""
星空モバイル、やっと繋がった
星空モバイル復旧したっぽい。長かった…
星空モバイル復旧おつかれさまです。現場の人たちありがとう
星空モバイル、復旧したけどまだ少し遅い気がする
星空モバイル復旧！ソラペイも使えた。よかった
#星空障害 復旧したみたい。みなさんお疲れさまでした
星空モバイル、復旧は早かった方だと思う。技術の人お疲れ様
星空モバイル直った。今から晩ご飯買いに行く
星空モバイル、復旧したけど障害の説明ちゃんとしてね
障害の間ソラペイ使えなかったのほんと困った。星空モバイル、補償は？
""")
JA_AFTERMATH_NEXT = L("""
昨日の星空モバイルの障害、補償ってあるのかな
星空モバイル、障害の原因ちゃんと説明してほしい
星空障害のせいで昨日の商談飛んだ。補償してくれるの？
昨日の星空モバイルの障害で乗り換え検討し始めた
星空モバイル、障害のお詫びで200円分のポイントだって。うーん
昨日の夜の星空モバイルの障害、関東だけだったんだね
星空モバイルの通信障害、原因は設備故障だったらしい
星空モバイル、障害の件で会見するらしい
星空モバイルの障害を受けて、サブ回線持とうかな
昨日の星空障害、公式の告知が遅かったのが一番の問題だと思う
星空モバイルの障害、ニュースになってる
会社で昨日の星空モバイル障害の話ばっかり
星空モバイル、お詫びメール来た
星空モバイルの障害、再発防止策はどうなってるの
昨日ソラペイ使えなかったせいで、結局コンビニでATM手数料払った
""")
EN_AFTERMATH_NOW = L("""
Hoshizora Mobile is back up in Tokyo, finally
Signal's back. That was a long 90 minutes, Hoshizora Mobile
Thanks to the Hoshizora Mobile engineers for getting it fixed tonight
""")
EN_AFTERMATH_NEXT = L("""
Will Hoshizora Mobile compensate customers for last night's outage?
Hoshizora Mobile sent an apology email about the outage, no word on credits yet
Hoshizora Mobile says the outage was caused by equipment failure
""")

# --- conversation threads: (lang, theme, starters, [stage2, stage3, stage4]) ------
THREAD_SCENARIOS = [
    ("ja", "hikari", L("""
星空光、今夜も遅い。下り5Mbps。さすがにサポートに問い合わせる
星空光の夜の速度が出ない件、今日こそ問い合わせる
星空光がまた夜だけ遅い。SR-300の再起動も効かない
在宅勤務なのに星空光が夜になると使い物にならない。問い合わせてみる
"""), [L("""
サポートに電話したらルーター再起動してくれって。やったけど変わらず
チャットで問い合わせ中。30分経過
問い合わせたら「調査します」とのこと。待つ
サポートの人、回線の混雑が原因かもって。じゃあどうすればいいの
"""), L("""
まだ遅い。2回目の問い合わせ
調査結果まだ来ない。もう3日
結局原因不明だって。納得できない
今日もダメ。下り3Mbps。改善する気ある？
"""), L("""
3回目の問い合わせ。もう解約考えてる
解約するって言ったら急に技術の人が来ることになった。なんなの
技術の人来てくれて、SR-300交換したら直った！最初からそうしてほしかった
ついに解約の手続きした。さよなら星空光
""")]),
    ("ja", "sorapay", L("""
ソラペイでチャージした1万円が反映されない。問い合わせる
ソラペイで払ったのに、お店では未決済扱い。二重で払うことになった
SoraPayで身に覚えのない決済がある。怖い
ソラペイ、決済エラーなのに残高だけ減ってる
"""), [L("""
ソラペイのサポートにチャットで連絡した。返事待ち
問い合わせフォーム送った。3営業日以内に返信だって
サポートから「確認中です」の定型文きた
"""), L("""
まだ返事来ない。もう4日目
2回目の問い合わせ。返金いつになるの
サポートから返事きたけど、レシートの写真送れって。捨てたよ…
"""), L("""
3回目の問い合わせでやっと返金されることになった
結局返金された。でも時間かかりすぎ
返金まで2週間。もうソラペイは使わない
""")]),
    ("ja", "billing", L("""
星空モバイル、今月二重請求されてる。問い合わせます
星空モバイルから同じ金額が2回引き落とされてた
星空モバイルの請求、解約したはずの回線分が入ってる
"""), [L("""
サポートに電話、40分待ってやっと繋がった。確認して折り返しますって
チャットで問い合わせた。担当部署に回しますとのこと
問い合わせた。返金は次回請求で相殺だって
"""), L("""
折り返しの電話、まだ来ない
相殺じゃなくて口座に返してほしいって再度連絡した
2回目の問い合わせ。前回の担当者の記録が残ってないらしい。一から説明
"""), L("""
3回目の問い合わせでようやく返金確定。疲れた
返金されたの確認した。お騒がせしました
まだ解決しない。消費生活センターに相談しようかな
""")]),
    ("ja", "esim", L("""
星空モバイルのeSIMに切り替えようとしたら失敗して圏外になった
機種変更でHZ-S10 ProにeSIM移そうとしたら、開通しない
星空モバイルにMNPしたのに、まだ前のキャリアのまま。開通しない
"""), [L("""
サポートに電話しようにも回線が使えない。Wi-Fiからチャットで問い合わせ中
チャットで再発行手続きしてもらった。待つ
ショップに行ったら2時間待ち
"""), L("""
まだ開通しない。もう半日スマホ使えない
再発行のQRコード読んでもエラー。2回目の問い合わせ
ショップの人も原因わからないって
"""), L("""
やっと開通した。丸一日かかった
結局ショップでSIMカードに戻してもらった
開通した！サポートの人、最後まで付き合ってくれてありがとう
""")]),
    ("ja", "repair", L("""
HZ-A53の画面が映らなくなった。星空モバイルで修理に出す
HZ-A52、充電できなくなった。星空モバイルのショップに持っていく
HZ-S10 Pro落として画面バキバキ。修理受付してきた
"""), [L("""
修理の進捗、まだ連絡ない
ショップに電話したら部品待ちだって
代替機、古すぎて使いにくい
"""), L("""
修理に出して10日。まだ戻らない
問い合わせたら修理見積もり3万円って。高い
3回目の問い合わせ。いつ戻るのか誰もわからない
"""), L("""
やっと戻ってきた。2週間かかった
戻ってきたけどデータ全部消えてた。聞いてない
修理完了。ショップの人が丁寧に説明してくれたので許す
""")]),
    ("ja", "delivery", L("""
星空モバイルのオンラインショップで買ったHZ-S10 Pro、まだ届かない
星空モバイルで注文したHZ-A53、発送予定日過ぎてる
SR-300の交換品、届くって言われた日に来ない
"""), [L("""
問い合わせた。発送は明日だって
配送状況を見たら「準備中」のまま
また延期のメール来た
"""), L("""
まだ届かない。もう1週間
問い合わせたら在庫がないって。先に言ってよ
2回目の問い合わせ。発送済みなのに追跡番号が出てこない
"""), L("""
やっと届いた！けど箱が潰れてる
届いた。長かったけどまあ満足
届いたけど色が違う。3回目の問い合わせへ
""")]),
    ("ja", "shop_good", L("""
今日は星空モバイルのショップで機種変更
星空モバイルのショップで母のスマホを契約してきた
"""), [L("""
担当の店員さん、説明が丁寧でわかりやすかった
待ち時間10分で呼ばれた。早い
"""), L("""
データ移行も全部手伝ってくれた。神対応でした
帰ってきたら全部設定済みで感動。ありがとうございました
""")]),
    ("ja", "question", L("""
星空モバイルの家族割について質問です。離れて住んでる親も入れますか
星空光の引っ越し手続き、どこからやればいいんだろう
星空モバイルの学割、兄弟で使えますか
"""), [L("""
公式サイト見たけど書いてない
チャットで聞いてみたら担当部署に確認するって
誰か知ってる人いませんか
"""), L("""
自己解決しました。マイページから申し込めました
サポートから回答きた。できるそうです。ありがとうございます
""")]),
    ("en", "hikari", L("""
Hoshizora Hikari is crawling again tonight. Contacting support
My SR-300 keeps dropping the connection every evening. Opening a ticket with Hoshizora
"""), [L("""
Support told me to restart the router. Did that twice already
Support chat says they'll "investigate". Waiting
"""), L("""
Still slow. Second time contacting them
Three days, no update on the investigation
"""), L("""
Third call. They're finally sending a technician
Technician replaced the SR-300 and it's fast now. Should have started there
""")]),
    ("en", "billing", L("""
Hoshizora Mobile charged me twice for November. Reaching out to support
Found a double charge from Hoshizora Mobile on my card statement
"""), [L("""
Support says the refund will be "offset against next month". I'd rather have my money back
Waited 35 minutes on hold, they'll call me back
"""), L("""
No callback yet. Second time asking
Third contact now. Nobody has any record of my previous calls
"""), L("""
Refund finally came through. Took way too long
Still no refund. This is ridiculous
""")]),
    ("en", "esim", L("""
Trying to move my Hoshizora Mobile eSIM to the new HZ-S10 Pro and it won't activate
Ported my number to Hoshizora Mobile this morning and still no service
"""), [L("""
Support reissued the QR code. Still failing
Going to the shop, wish me luck
"""), L("""
Shop says 2 hour wait. Still no service on my phone
Second reissue, same error
"""), L("""
Finally working after 8 hours. Thanks to the staff member who stayed on it
Gave up and switched back to a physical SIM
""")]),
]

JA_OUTAGE_THREAD = (L("""
星空モバイル圏外になった。なにこれ
急に星空モバイルが繋がらなくなった
星空モバイル、電話もネットもダメになった
"""), [L("""
まだ繋がらない
再起動してもダメ。まだ圏外
30分経ってもまだ圏外
"""), L("""
1時間経ってもまだ繋がらない。公式の続報もなし
家族とも連絡取れない。いい加減にして
"""), L("""
やっと復旧した。長かった
アンテナ立った！復旧したっぽい
""")])
EN_OUTAGE_THREAD = (L("""
Hoshizora Mobile just dropped to no signal
No service on Hoshizora Mobile all of a sudden
"""), [L("""
Still no signal
Restarted twice, still nothing
"""), L("""
An hour later and still down
"""), L("""
Signal is back, finally
""")])

OFFICIAL_REPLY_JA = {
    "generic": L("""
@{h} ご不便をおかけしており申し訳ございません。お手数ですが、DMにてご契約者様のお名前とご状況をお知らせいただけますでしょうか。
@{h} お問い合わせいただきありがとうございます。担当部署にて確認し、DMにてご案内いたします。
@{h} ご迷惑をおかけしております。恐れ入りますが、詳しい状況をDMでお伺いできますでしょうか。
"""),
    "billing": L("""
@{h} 大変ご迷惑をおかけしております。ご請求内容を確認のうえ、返金手続きについてDMにてご案内いたします。
"""),
    "hikari": L("""
@{h} ご不便をおかけし申し訳ございません。SR-300の状態確認と交換手続きについて、DMでご案内させていただきます。
"""),
    "outage": L("""
@{h} ご迷惑をおかけし申し訳ございません。現在、関東地方の一部で通信障害が発生しており、復旧作業を進めております。今しばらくお待ちください。
@{h} ご不便をおかけしております。最新の状況は公式アカウント @hoshizora_mobile にてお知らせしております。
"""),
    "thanks": L("""
@{h} 温かいお言葉をいただきありがとうございます。担当スタッフにも共有させていただきます！
@{h} 解決したとのこと、安心いたしました。今後とも星空モバイルをよろしくお願いいたします。
"""),
}
OFFICIAL_REPLY_EN = {
    "generic": ["@{h} We're sorry for the trouble. Could you DM us your account details so we can look into this?"],
    "billing": ["@{h} We apologise for the billing error. Please send us a DM and we'll arrange a refund."],
    "hikari": ["@{h} Sorry about the slow speeds. Please DM us and we'll check your SR-300 and line remotely."],
    "outage": ["@{h} We're sorry. There is currently a network issue in parts of the Kanto area and our engineers are working to restore service."],
    "thanks": ["@{h} Glad to hear it's resolved! Thank you for your patience."],
}

OFFICIAL_POSTS = [
    # (JST time, lang, text)
    ("2026-11-16 10:00", "ja", "【お知らせ】冬のギガ増量キャンペーンを実施中です。対象プランのデータ容量を12月31日まで増量いたします。#星空モバイル"),
    ("2026-11-16 18:00", "ja", "【ソラペイ】11月22日まで、対象店舗でのお支払いで最大20%還元キャンペーン実施中です！ #ソラペイ"),
    ("2026-11-17 12:00", "ja", "【メンテナンスのお知らせ】11月18日(水)2:00〜5:00、マイページおよび星空モバイルアプリがご利用いただけません。"),
    ("2026-11-17 15:00", "en", "Hoshizora Mobile: our winter data boost is now live. Eligible plans get extra data until Dec 31."),
    ("2026-11-18 11:00", "ja", "【新機種】HZ-S10 Proの新色「ミッドナイトブルー」を11月27日に発売します。ご予約受付中です。"),
    ("2026-11-19 19:14", "ja", "【障害情報】11月19日19時頃より、関東地方の一部で音声通話・データ通信がご利用しづらい状況が発生しております。ご迷惑をおかけし申し訳ございません。 #星空障害"),
    ("2026-11-19 19:16", "en", "[Network issue] Since around 19:00 JST on Nov 19, voice and data services are disrupted in parts of the Kanto area. We apologise for the inconvenience."),
    ("2026-11-19 19:48", "ja", "【障害情報・続報】東京都・神奈川県・埼玉県の一部で通信障害が継続しております。ソラペイの一部決済にも影響が出ております。復旧に向け対応中です。 #星空障害"),
    ("2026-11-19 20:38", "ja", "【復旧】20時25分頃、通信障害は復旧いたしました。ご不便・ご迷惑をおかけしましたことを深くお詫び申し上げます。 #星空障害"),
    ("2026-11-19 20:40", "en", "[Resolved] Service was restored at around 20:25 JST. We sincerely apologise for the disruption."),
    ("2026-11-20 12:00", "ja", "【お詫び】11月19日に発生した通信障害について、原因と今後の対応を公式サイトにて公表いたしました。"),
    ("2026-11-20 18:00", "ja", "【ブラックフライデー】HZ-A53がオンラインショップ限定で2万円引き！11月30日まで。#星空モバイル"),
    ("2026-11-21 10:00", "ja", "【ソラペイ】還元キャンペーンは明日11月22日までです。お見逃しなく！ #ソラペイ"),
    ("2026-11-22 11:00", "ja", "【お知らせ】年末年始のショップ営業時間についてご案内します。詳しくは公式サイトをご確認ください。"),
]

INFLUENCERS = [
    # handle, name, followers, lang
    ("gadget_kaz", "カズ｜ガジェットレビュー", 382000, "ja"),
    ("tsushin_watch", "通信ウォッチ編集部", 156000, "ja"),
    ("yuki_ch_vlog", "ゆきちゃんねる", 227000, "ja"),
    ("mika_in_tokyo", "Mika in Tokyo", 124000, "en"),
]
INFLUENCER_POSTS = [
    # (handle, JST time or None (random), text, burst?)
    ("gadget_kaz", "2026-11-17 21:30", "星空光、うちの作業部屋で夜9時以降の実測が下り10Mbps切る。1Gbpsプランとは。検証動画撮るわ", False),
    ("gadget_kaz", "2026-11-19 19:09", "星空モバイル、都内で完全に圏外。予備のSIM挿して投稿してる。これはかなり大規模な通信障害では #星空障害", True),
    ("gadget_kaz", "2026-11-20 20:00", "昨日の星空モバイルの障害、90分近く止まってたのに公式の第一報が14分後。告知体制は改善してほしい", False),
    ("tsushin_watch", "2026-11-19 19:21", "【速報】星空モバイルで大規模な通信障害か。関東を中心に「圏外」「SOSのみ」の報告多数。ソラペイの決済にも影響の模様 #星空障害", True),
    ("tsushin_watch", "2026-11-20 09:00", "星空モバイルの通信障害、影響は関東の1都2県。総務省への報告対象になる可能性も。詳しくは記事で", False),
    ("tsushin_watch", "2026-11-18 08:30", "星空モバイル、ソラペイの二重請求問題について「一部で重複決済が発生」と認める。返金対応へ", False),
    ("yuki_ch_vlog", "2026-11-16 22:10", "星空モバイルのショップで機種変したら3時間待ち…しかも頼んでないオプション付いてた。みんな契約書ちゃんと見てね", False),
    ("yuki_ch_vlog", "2026-11-19 19:33", "星空モバイル圏外でライブ配信できない😭 今日の配信は延期します。ごめんね #星空障害", True),
    ("mika_in_tokyo", "2026-11-18 20:15", "Hoshizora Mobile double billed me AND half my followers apparently. If you're on SoraPay, check your statements", False),
    ("mika_in_tokyo", "2026-11-19 19:25", "Hoshizora Mobile is completely down in Tokyo. No calls, no data, SoraPay failing at shops. Stay safe everyone #星空障害", True),
    ("mika_in_tokyo", "2026-11-21 14:00", "Hoshizora Hikari in my new apartment is so slow at night I'm tethering to my phone. Not a good look, Hoshizora", False),
]

# --- unrelated noise: must not mention any product -----------------------------
JA_NOISE = L("""
今夜は星空がきれい。オリオン座見えた
星空観察しに高原まで来た。寒いけど最高
満天の星空の下でキャンプ🏕
プラネタリウムの星空、癒やされた
星空の写真撮りたくて三脚買った
冬の星空ってなんでこんなに澄んでるんだろう
星空ツアー、雲で中止になった…
今日の星空、天の川まで見えた
星空を見上げながら帰り道
星空が見える露天風呂、最高すぎた
星空の絵を描いてみた🎨
星空柄のワンピース買った
星空カフェ行ってきた。店内暗くておしゃれ
星空保護区に行ってみたい
流星群、今夜がピークらしい。星空見に行こ
星空キャンプ場、予約取れた！
星空撮影、ISO上げすぎてノイズだらけ
ベランダから星空。都会でも意外と見える
星空がきれいな夜は、なんか泣きたくなる
星空の下で飲むコーヒー最高☕
息子に「星空って星何個あるの？」って聞かれて答えられなかった
星空列車に乗ってみたい
星空ネイルにしてもらった💅
星空のスノードーム可愛い
離島の星空はレベルが違う
星空ヨガっていうのがあるらしい
星空がきれいすぎて、寒いのに30分ベランダにいた
田舎に帰ったら星空が近くて感動
星空の下で告白されたい人生だった
星空ジャムっていう青いジャム見つけた
今日の空、雲ひとつない。気持ちいい
ひかり号で名古屋へ出張
光の速さで仕事終わらせた
朝の光がまぶしい
夕焼けがきれいだった
今日のランチはパスタ。おいしかった
月曜日つらい
猫が布団から出てこない
週末なにしよう
寒くなってきたから鍋の季節
コンビニの新作プリンおいしかった
推しの新曲がよすぎる
ジム行ってきた。えらい
洗濯物乾かない
雨の日は頭痛がする
電車で寝過ごした
新しいカフェ開拓した。ラテがうまい
子どもの発表会、泣いた
明日締め切りなのに何も終わってない
今年もあと1ヶ月ちょっと
こたつ出した。もう出られない
朝からコーヒー3杯目
髪切った。ちょっと短すぎたかも
会社の近くのラーメン屋、行列すごい
今日は定時で帰れた！
ミドリモバイルの新しいCM、なんか好き
ツバメモバイルに乗り換えた友達が速いって言ってた
マルシェモールのセール、つい買いすぎた
宅配便、今日届く予定なのにまだ来ない
ことり銀行の窓口、今日混んでた
シネマプラスで映画見て寝る
東湾線また遅れてる
ハッピーマートの新作スイーツ食べた
駅前のかつ丸、今日は空いてた
インフルの予防接種してきた
紅葉見に行ってきた。もう終わりかけ
年賀状どうしよう
ボーナスまであと少し
ネトゲのイベント周回中
新しい靴で靴擦れした
部屋の片付けしたら昔の写真出てきた
うちの犬、散歩から帰りたがらない
今日の夕飯はカレー
朝の満員電車しんどい
カラオケで喉枯れた
レポート終わった〜
映画館でポップコーン全部こぼした
推しのライブ当たった！！
今日寒すぎない？
電気毛布最強説
二度寝した。後悔はしていない
久しぶりに実家に帰る
昼休みに本屋寄った
この時期の乾燥つらい
加湿器買おうか迷う
冬至っていつだっけ
クリスマスケーキ予約した
ランニング5km達成
ソラって名前の猫、めっちゃかわいい
そら豆の季節じゃないけど食べたい
宇宙の本読んでる。星ってすごい
天体望遠鏡ほしい
星座占い1位だった
星のカービィの新作やりたい
金星と木星が並んで見えるらしい
夜空に月がきれい
満月の夜
みんなのうたで「星に願いを」流れてた
夜景見に行ってきた。きれいだった
オーロラ見るのが夢
スマホの画面割れた。つらい
充電器どこいった
イヤホン片方なくした
新しいゲーム機ほしい
Wi-Fiのパスワード忘れた
PCのアップデート終わらない
ノートパソコン重い
キーボード買い替えた。打鍵感最高
ブルーライトカットの眼鏡買った
スマホの容量いっぱい
写真の整理しなきゃ
ダークモードに慣れた
家のネット、今日はやけに速い
テレワーク3日目。人と話してない
オンライン会議でミュート解除忘れてた
郵便局の窓口、混んでた
区役所で住民票とってきた
病院の待ち時間長すぎ
歯医者こわい
美容院予約した
ネイル変えた
今日はよく晴れた
台風来ないといいな
最近地震多くない？
雪降ってる！
初雪だ
雨やんだ
風強すぎ
花粉まだだよね？
今日の晩ごはん何にしよう
お弁当作った
カップ麺で済ませた
コンビニのおでん始まってた
焼き芋の季節
ホットココアうまい
鍋パした
たこ焼きパーティー
ケーキ焼いた
筋肉痛
腰痛い
肩こりひどい
眠い
お腹すいた
金曜日だー！
三連休何しよう
旅行の計画立ててる
北海道行きたい
沖縄行きたい
温泉行きたい
京都の紅葉見たい
友達の結婚式
同窓会
飲み会
今日もおつかれさまでした
おやすみなさい
おはようございます
いってきます
ただいま
星空ライブ配信、今夜22時から。見に来てね
「星空のメモリア」懐かしいな
星空を見に行く会、参加者募集中
星空写真コンテストに応募した
星空観望会、雨で延期になった
""")

EN_NOISE = L("""
The night sky out here is unreal, so many stars
Stargazing trip this weekend, fingers crossed for clear skies
Saw the Milky Way for the first time tonight
Planetarium date night, highly recommend
Clear skies and a full moon tonight
Meteor shower peaks tonight, setting an alarm
Starry night walk after dinner, perfect weather
Just finished my coffee, time to work
Monday again already?
My cat refuses to get off my keyboard
Anyone else's train late this morning?
Made soup for the first time this winter
Finally finished that book, what an ending
Gym at 6am, who am I
Can't believe it's almost December
The new ramen place near the station is amazing
Rainy day, staying in
Lost one AirPod again
My phone screen cracked, great start to the week
Weekend plans: nothing, and I'm excited about it
Autumn leaves in Kyoto are stunning right now
First snow of the season!
Konbini egg sandwiches are elite
Learning kanji is humbling
Tokyo trains at rush hour are a sport
Just booked flights home for the holidays
Working from a cafe today, the latte art is cute
Dog wants a third walk. No.
Holiday shopping starts early this year apparently
Back pain from sitting all day, need a better chair
New laptop day!
Can't find my charger anywhere
My internet is weirdly fast today, not complaining
Zoom call where everyone forgot to unmute
Sunset from the office window was gorgeous
Trying to cook Japanese curry from scratch
Onsen weekend was exactly what I needed
Someone on the train was playing music without headphones
The 7-Eleven near me redesigned everything, can't find anything
Midori Mobile ads are everywhere this week
Went to the ward office, took 2 hours
Power nap success
Christmas lights already up in Roppongi
Reading about black holes at 2am again
Made it to 10k steps today
The autumn menu at my local cafe is so good
Pho on a cold day hits different
Sora is such a cute name for a dog
Finally saw Your Name, now I get the hype
Star Wars marathon tonight
Star of the show was definitely the drummer
Watched the stars from the rooftop bar, magical
Nothing beats a clear winter sky in the countryside
Good morning everyone
Good night Tokyo
Friday!!!
Coffee number three
Tired but happy
Why is it already dark at 5pm
""")

# --- spam / ads ---------------------------------------------------------------
JA_SPAM = L("""
【副業】スマホ1台で月収50万！詳しくはプロフのリンクへ {u}
フォロワー1000人無料で増やせます👉 {u}
星空モバイルユーザー限定！ギガ無料配布中🎁 こちらから受け取り→ {u}
【当選】おめでとうございます！ソラペイ10,000円分が当たりました。受け取りはこちら {u}
暗号資産で資産10倍にした方法、無料で教えます。DMください
限定オープンチャット招待中。稼げる情報あり {u}
在宅で日給3万円！未経験OK！{u}
【拡散希望】今だけ高級ブランド財布90%OFF {u}
星空モバイルの料金が半額になる裏ワザ→ {u}
【ソラペイ】アカウントが停止されました。本人確認はこちら {u}
いいねした人全員に1万円配ります！フォロー＆リポストで応募
ダイエットサプリで1ヶ月-10kg！{u}
""")
EN_SPAM = L("""
Earn $500 a day from home, no experience needed! DM me
Get 10k followers instantly 👉 {u}
Claim your Hoshizora Mobile reward now before it expires: {u}
Your SoraPay account has been suspended. Verify here: {u}
Crypto signals group, 300% gains this week 🚀 {u}
Free iPhone giveaway, just follow and retweet!
""")

ODD_EMOJI = ["📶❌📶❌📶❌", "😡😡😡😡", "🙏✨", "😭😭😭😭😭😭😭😭😭😭😭😭", "🌌", "👍", "📱💥", "🤔🤔", "🆗"]
ODD_PUNCT = ["。", "…", "？", "！！！！", "ｗ", "、"]
ODD_URLS = ["https://hoshizora-mobile.example.jp/", "https://x.com/hoshizora_mobile", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://hoshizora-mobile.example.jp/support/outage"]
ODD_MULTILINE = [
    "星空モバイルへ\n\n・夜の星空光が遅い\n・ソラペイの二重請求\n・ショップの待ち時間\n\n改善お願いします🙏",
    "今日の出来事\n1. 星空モバイルのショップで2時間待ち\n2. HZ-A53に機種変\n3. 帰り道に星空がきれいだった\nおわり",
    "Hoshizora Mobile review:\n+ cheap\n+ good coverage\n- SoraPay fails sometimes\n- support only in Japanese\n3/5",
]

# =============================================================================
# generation
# =============================================================================

JST = dt.timezone(dt.timedelta(hours=9))
UTC = dt.timezone.utc
WINDOW_START = dt.datetime(2026, 11, 16, 0, 0, 0, tzinfo=JST)
WINDOW_END = dt.datetime(2026, 11, 23, 0, 0, 0, tzinfo=JST)
BURST_START = dt.datetime(2026, 11, 19, 19, 0, 0, tzinfo=JST)
BURST_END = dt.datetime(2026, 11, 19, 20, 30, 0, tzinfo=JST)

TARGET_TOTAL = 2800
BURST_POSTS = 350
N_THREADS = 150
N_OUTAGE_THREADS = 18
N_OFFICIAL_REPLY_THREADS = 22
NOISE_SHARE = 0.25
SPAM_SHARE = 0.03
ODD_SHARE = 0.01
REPOST_SHARE = 0.03
N_AFTERMATH = 70

BRAND_KEYWORDS = ("星空モバイル", "星空モバ", "星空光", "星空でんき", "SoraPay", "ソラペイ", "ｿﾗﾍﾟｲ",
                  "HZ-", "SR-300", "Hoshizora", "hoshizora", "ホシゾラ", "星空ﾓﾊﾞｲﾙ", "ほしぞらモバイル",
                  "星空障害")

# JST hour-of-day activity (day/night rhythm) and day-of-week factor (Mon..Sun)
HOUR_WEIGHTS = [5, 3, 2, 1.2, 1, 1.5, 3, 6, 8, 7, 6, 6.5, 9, 7.5, 6, 6, 6.5, 7.5, 8.5, 9.5, 10, 10.5, 9.5, 7.5]
DAY_FACTOR = [1.0, 1.0, 1.0, 1.0, 1.05, 1.15, 1.1]
SLOTS = [(d, h) for d in range(7) for h in range(24)]
SLOT_WEIGHTS = [DAY_FACTOR[d] * HOUR_WEIGHTS[h] for d, h in SLOTS]

JA_BRAND_CATS = [  # (pool, weight, polarity)
    (JA_HIKARI, 11, "neg"), (JA_SORAPAY, 9, "neg"), (JA_BILLING, 8, "neg"), (JA_SHOP, 7, "neg"),
    (JA_QUESTION, 14, "neu"), (JA_REQUEST, 7, "neu"), (JA_PRAISE, 15, "pos"), (JA_NEUTRAL, 10, "neu"),
    (JA_CAMPAIGN, 6, "neu"), (JA_DEVICE, 7, "neu"), (JA_DENKI, 4, "neu"), (JA_MISC, 5, "neg"),
    (JA_OUTAGE_MINOR, 2.2, "neg"),
]
EN_BRAND_CATS = [
    (EN_HIKARI, 10, "neg"), (EN_SORAPAY, 9, "neg"), (EN_BILLING, 8, "neg"), (EN_SHOP, 7, "neg"),
    (EN_QUESTION, 14, "neu"), (EN_REQUEST, 8, "neu"), (EN_PRAISE, 15, "pos"), (EN_NEUTRAL, 9, "neu"),
    (EN_MISC, 6, "neg"), (EN_CAMPAIGN, 4, "neu"), (EN_OUTAGE_MINOR, 2, "neg"),
]
REVIEWABLE = {id(p) for p in (JA_HIKARI, JA_SORAPAY, JA_BILLING, JA_SHOP, JA_PRAISE, JA_DEVICE, JA_DENKI,
                              EN_HIKARI, EN_BILLING, EN_SHOP, EN_PRAISE)}

EMOJI = {
    "neg": ["😡", "😭", "💢", "🙄", "😇", "(´・ω・｀)", "(；´Д｀)", "orz", "😩", "💀"],
    "pos": ["😊", "✨", "🙏", "👍", "🥰", "😆", "(*´▽｀*)", "🎉", "💯"],
    "neu": ["🤔", "📱", "👀", "💭", "📝"],
}
EN_TAILS = {"neg": [" smh", " ugh", " 🙃", " !!", " ffs"], "pos": [" 🙌", " love it", " ❤️"], "neu": [" 🤔", " lol", " 👀"]}
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class Gen:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.posts = []
        self.seen = collections.Counter()
        self.authors_ja, self.authors_en = self._make_authors()
        self.author_weights_ja = [a["_w"] for a in self.authors_ja]
        self.author_weights_en = [a["_w"] for a in self.authors_en]
        self.official_mobile = self._official("hoshizora_mobile", "星空モバイル【公式】", 486000)
        self.official_help = self._official("hoshizora_help", "星空モバイル サポート【公式】", 92000)
        self.influencers = {}
        for handle, name, followers, lang in INFLUENCERS:
            self.influencers[handle] = dict(id="u%08d" % self.rng.randrange(10**7, 10**8), handle=handle,
                                            name=name, followers=followers, verified=True, _lang=lang, _w=0)

    # ---------------------------------------------------------------- authors
    def _official(self, handle, name, followers):
        return dict(id="u%08d" % self.rng.randrange(10**7, 10**8), handle=handle, name=name,
                    followers=followers, verified=True, _lang="ja", _w=0)

    def _make_authors(self):
        rng = self.rng
        syl = ["ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so", "ta", "chi", "tsu", "te", "to",
               "na", "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho", "ma", "mi", "mu", "me", "mo",
               "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro", "wa", "n", "ga", "go", "da", "do", "ba", "be", "pi", "po"]
        nick = ["みー", "たけ", "ゆうき", "さとみ", "社畜のたなか", "ねこ好き", "まる", "ぽん酢", "はる🌸", "そうた",
                "りな", "こたろう", "ケンジ", "あやか", "ゆず", "もも", "しゅん", "なお", "ちひろ", "かな@育休中",
                "つばさ", "ゆうた", "ひな", "れん", "みつき", "おかか", "にゃんこ先生", "在宅ワーカーK", "カメラ好きのY",
                "ゲーム廃人", "しろくま", "ぱんだ", "おもち", "きなこ", "たろう", "そら", "ひかり", "ほし", "ｶﾂﾞｷ",
                "通勤快速", "深夜のラーメン", "うどん県民", "二児の母", "大学生A", "定時退社したい", "アラサーOL",
                "山田", "よしこ", "ポテト", "ぴよ", "ゆるふわ", "ぬこ", "すし", "とまと", "あずき", "ちくわ", "🍙おにぎり"]
        fam = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
               "佐々木", "山口", "松本", "井上", "木村", "林", "清水", "斎藤"]
        given = ["翔太", "美咲", "大輔", "陽菜", "健", "結衣", "拓也", "さくら", "直樹", "愛", "悠人", "葵", "亮", "真央"]
        first = ["Alex", "Sam", "Jess", "Mark", "Emily", "Chris", "Priya", "Tom", "Laura", "Dan", "Mei", "Leo",
                 "Sophie", "Ryan", "Nina", "Omar", "Kate", "Ben", "Hannah", "Luis", "Grace", "Ken", "Maya", "Josh"]
        last = ["Smith", "Nguyen", "Brown", "Garcia", "Wilson", "Park", "Taylor", "Lee", "Martin", "Kowalski",
                "Silva", "Chen", "O'Brien", "Müller", "Rossi", "Tanaka", "Patel", "Evans"]
        handles = set()

        def handle(base):
            h = base
            while h in handles or len(h) < 4:
                h = base + rng.choice(["", "_"]) + str(rng.randrange(1, 9999))
            handles.add(h)
            return h[:15]

        def followers():
            r = rng.random()
            if r < 0.012:
                return int(math.exp(rng.uniform(math.log(10000), math.log(500000))))
            if r < 0.05:
                return int(rng.uniform(2000, 9000))
            return max(3, int(rng.lognormvariate(math.log(320), 0.95)))

        ja, en = [], []
        for _ in range(1500):
            k = rng.random()
            if k < 0.5:
                name = rng.choice(nick)
            elif k < 0.8:
                name = rng.choice(fam) + rng.choice(["", " ", ""]) + rng.choice(given + [""])
            else:
                name = "".join(rng.choice(syl) for _ in range(rng.randint(2, 3))).capitalize()
            base = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4))) + rng.choice(["", "_", "", "_jp"])
            f = followers()
            ja.append(dict(name=name, handle=handle(base), followers=f))
        for _ in range(420):
            fn, ln = rng.choice(first), rng.choice(last)
            base = rng.choice([fn.lower(), fn.lower() + "_" + ln.lower()[:5], fn[0].lower() + ln.lower()[:6],
                               fn.lower() + "_in_tokyo", fn.lower() + "jp"])
            base = "".join(c for c in base if c.isascii() and (c.isalnum() or c == "_"))
            ja_or = dict(name=fn + " " + ln, handle=handle(base), followers=followers())
            en.append(ja_or)
        out = []
        for lst, lang in ((ja, "ja"), (en, "en")):
            res = []
            for a in lst:
                verified = a["followers"] >= 10000 and rng.random() < 0.35 or rng.random() < 0.004
                res.append(dict(id="u%08d" % rng.randrange(10**7, 10**8), handle=a["handle"], name=a["name"],
                                followers=a["followers"], verified=verified, _lang=lang,
                                _w=rng.paretovariate(1.6)))  # a few authors post a lot
            out.append(res)
        return out

    def author(self, lang):
        if lang == "en":
            return self.rng.choices(self.authors_en, self.author_weights_en)[0]
        return self.rng.choices(self.authors_ja, self.author_weights_ja)[0]

    # ------------------------------------------------------------------ time
    def random_time(self, lo=WINDOW_START, hi=WINDOW_END):
        while True:
            d, h = self.rng.choices(SLOTS, SLOT_WEIGHTS)[0]
            t = WINDOW_START + dt.timedelta(days=d, hours=h, seconds=self.rng.randrange(3600))
            if lo <= t < hi:
                return t

    # ------------------------------------------------------------- variation
    def vary_ja(self, text, pol, brand=True):
        """Light, meaning-preserving variation of a Japanese text."""
        rng = self.rng
        ops = ["emoji", "w", "zen", "name", "mention", "tag", "period", "emoji"] if brand else ["emoji", "w", "zen", "period", "emoji"]
        ops = set(rng.sample(ops, rng.randint(1, 2)))
        if "name" in ops:
            if "星空モバイル" in text and "#星空モバイル" not in text:
                text = text.replace("星空モバイル", rng.choice(["星空モバ", "ほしぞらモバイル", "星空ﾓﾊﾞｲﾙ", "星空mobile", "星空モバイル"]), 1)
            elif "ソラペイ" in text:
                text = text.replace("ソラペイ", rng.choice(["SoraPay", "ｿﾗﾍﾟｲ"]), 1)
            elif "SoraPay" in text:
                text = text.replace("SoraPay", "ソラペイ", 1)
            else:
                ops.add("emoji")
        if "zen" in ops:
            text = text.translate(FULLWIDTH)
        if "period" in ops:
            if text.endswith("。"):
                text = text[:-1]
            elif not text.endswith(("？", "?", "！", "!", "…", "）", ")")) and text[-1:].isalnum():
                text = text + "。"
        if "w" in ops:
            text = text + rng.choice(["ｗ", "ｗｗｗ", "草", "…", "（泣）"] if pol != "pos" else ["ｗ", "！", "〜", "ーーー！"])
        if "emoji" in ops:
            text = text + rng.choice(EMOJI[pol])
        if "mention" in ops and not text.startswith("@"):
            text = rng.choice(["@hoshizora_mobile ", "@hoshizora_help "]) + text
        if "tag" in ops:
            tag = "#ソラペイ" if ("ソラペイ" in text or "SoraPay" in text) else "#星空モバイル"
            if tag not in text:
                text = text + " " + tag
        return text

    def vary_en(self, text, pol, brand=True):
        """Light, meaning-preserving variation of an English text."""
        rng = self.rng
        ops = ["tail", "lower", "mention", "tag", "emoji", "name"] if brand else ["tail", "lower", "emoji"]
        ops = set(rng.sample(ops, rng.randint(1, 2)))
        if "name" in ops and "Hoshizora Mobile" in text:
            text = text.replace("Hoshizora Mobile", rng.choice(["Hoshizora", "hoshizora mobile", "Hoshizora mobile"]), 1)
        if "lower" in ops:
            text = text[0].lower() + text[1:]
        if "tail" in ops:
            text = text + rng.choice(EN_TAILS[pol])
        if "emoji" in ops:
            text = text + " " + rng.choice(EMOJI[pol])
        if "mention" in ops and not text.startswith("@"):
            text = "@hoshizora_mobile " + text
        if "tag" in ops and "#" not in text:
            text = text + rng.choice([" #HoshizoraMobile", " #Hoshizora", " #Japan"])
        return text

    def unique(self, make, lang, pol, cap=2, p_vary=0.45, brand=True):
        """Pick a text via make(); vary it so that no text appears more than `cap` times."""
        vary = self.vary_en if lang == "en" else self.vary_ja
        text = make()
        if self.rng.random() < p_vary:
            text = vary(text, pol, brand)
        tries = 0
        while self.seen[text] >= cap and tries < 20:
            tries += 1
            base = make() if tries % 2 == 0 else text
            text = vary(base, pol, brand)
        self.seen[text] += 1
        return text

    # ------------------------------------------------------------------ posts
    def platform(self, kind):
        table = {
            "brand": (["x", "instagram", "facebook", "line", "review"], [60, 8, 6, 8, 18]),
            "brand_noreview": (["x", "instagram", "facebook", "line"], [74, 9, 7, 10]),
            "noise": (["x", "instagram", "facebook"], [72, 18, 10]),
            "spam": (["x", "instagram", "facebook", "line"], [70, 15, 10, 5]),
            "burst": (["x", "line", "facebook"], [90, 6, 4]),
            "thread": (["x", "line", "facebook"], [85, 8, 7]),
        }
        names, w = table[kind]
        return self.rng.choices(names, w)[0]

    def add(self, kind, t, author, text, lang, platform="x", parent=None, root=None, repost_of=None, boost=1.0):
        p = dict(_kind=kind, _t=t, _author=author, _platform=platform, _parent=parent, _root=root,
                 _repost_of=repost_of, _boost=boost, text=text, lang=lang)
        self.posts.append(p)
        return p

    def brand_text(self, lang):
        cats = EN_BRAND_CATS if lang == "en" else JA_BRAND_CATS
        pool, _, pol = self.rng.choices(cats, [c[1] for c in cats])[0]
        text = self.unique(lambda: self.rng.choice(pool), lang, pol)
        return text, id(pool) in REVIEWABLE, pool in (JA_OUTAGE_MINOR, EN_OUTAGE_MINOR)

    def gen_official(self):
        for when, lang, text in OFFICIAL_POSTS:
            t = dt.datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=JST) + dt.timedelta(seconds=self.rng.randrange(60))
            p = self.add("official", t, self.official_mobile, text, lang, boost=3.0 if "障害" in text else 1.0)
            if "【障害情報】" in text:
                self.burst_announcement = p

    def gen_influencers(self):
        for handle, when, text, burst in INFLUENCER_POSTS:
            a = self.influencers[handle]
            t = dt.datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=JST) + dt.timedelta(seconds=self.rng.randrange(60))
            self.add("burst" if burst else "influencer", t, a, text, a["_lang"])
            self.seen[text] += 1

    def burst_offset(self):
        while True:
            m = self.rng.gammavariate(2.2, 11.0) + 0.8
            if m < 89.5:
                return dt.timedelta(seconds=int(m * 60))

    def burst_text(self, lang, minutes):
        rng = self.rng
        region = rng.choices(list(LOC_WEIGHTS), list(LOC_WEIGHTS.values()))[0]
        p_tag = min(0.75, 0.12 + minutes / 55.0)  # the hashtag catches on over time

        def make():
            if lang == "en":
                base = rng.choice(EN_BURST)
                if rng.random() < 0.4:
                    base = rng.choice(EN_LOC[region]) + base[0].lower() + base[1:]
                if rng.random() < p_tag:
                    base += " #星空障害"
                return base
            pool = JA_BURST_LATE if (minutes > 60 and rng.random() < 0.35) else JA_BURST
            base = rng.choice(pool)
            if rng.random() < 0.55 and not base.startswith("@"):
                base = rng.choice(JA_LOC[region]) + base
            if rng.random() < p_tag:
                base += rng.choice([" #星空障害", " #星空障害", " #星空障害 #星空モバイル", " #通信障害", " #星空モバイル"])
            return base
        return self.unique(make, lang, "neg", cap=2, p_vary=0.3)

    def gen_burst(self):
        for _ in range(BURST_POSTS - sum(1 for h, w, t, b in INFLUENCER_POSTS if b)):
            off = self.burst_offset()
            lang = "en" if self.rng.random() < 0.12 else "ja"
            t = BURST_START + off
            self.add("burst", t, self.author(lang), self.burst_text(lang, off.total_seconds() / 60), lang,
                     platform=self.platform("burst"), boost=1.6)

    def gen_aftermath(self):
        rng = self.rng
        for i in range(N_AFTERMATH):
            # most right after recovery, a tail over the next two days
            if i < 30:
                t = BURST_END + dt.timedelta(minutes=rng.uniform(0, 150))
            else:
                t = self.random_time(BURST_END + dt.timedelta(hours=10), dt.datetime(2026, 11, 21, 0, tzinfo=JST))
            lang = "en" if rng.random() < 0.15 else "ja"
            if i < 30:  # right after recovery
                pool = EN_AFTERMATH_NOW if lang == "en" else JA_AFTERMATH_NOW
            else:       # the next day: cause, compensation, apology
                pool = EN_AFTERMATH_NEXT if lang == "en" else JA_AFTERMATH_NEXT
            text = self.unique(lambda: rng.choice(pool), lang, "neu", cap=2)
            self.add("aftermath", t, self.author(lang), text, lang, platform=self.platform("brand_noreview"))

    def gen_threads(self):
        rng = self.rng
        used_authors = set()
        weights = [6, 4, 4, 3, 3, 3, 2, 3, 2, 2, 2]  # per THREAD_SCENARIOS entry
        specs = []
        for i in range(N_THREADS):
            if i < N_OUTAGE_THREADS:
                lang = "en" if i % 6 == 5 else "ja"
                starters, stages = EN_OUTAGE_THREAD if lang == "en" else JA_OUTAGE_THREAD
                specs.append((lang, "outage", starters, stages))
            else:
                specs.append(rng.choices(THREAD_SCENARIOS, weights)[0])
        official_idx = set(rng.sample(range(N_THREADS), N_OFFICIAL_REPLY_THREADS)) | {0, 1, 2}
        for i, (lang, theme, starters, stages) in enumerate(specs):
            while True:
                a = self.author(lang)
                if a["handle"] not in used_authors:
                    used_authors.add(a["handle"])
                    break
            n = rng.choices([2, 3, 4], [45, 35, 20])[0]
            n = min(n, len(stages) + 1)
            plat = "x" if (i in official_idx or theme == "outage") else self.platform("thread")
            if theme == "outage":
                t = BURST_START + dt.timedelta(seconds=rng.randrange(60, 40 * 60))
            else:
                t = self.random_time(WINDOW_START, WINDOW_END - dt.timedelta(days=1))
            pol = "pos" if theme == "shop_good" else "neg"
            text = self.unique(lambda: rng.choice(starters), lang, pol, cap=2, p_vary=0.3)
            root = self.add("thread", t, a, text, lang, platform=plat)
            root["_root"] = root
            prev = root
            reply_at = rng.randrange(1, n) if (i in official_idx and plat == "x") else None
            for k in range(1, n):
                if reply_at == k:  # official support answers before the user's next post
                    t = t + dt.timedelta(minutes=rng.uniform(4, 90))
                    if theme == "outage":
                        t = min(t, BURST_START + dt.timedelta(minutes=80))
                    t = max(t, prev["_t"] + dt.timedelta(minutes=rng.uniform(2, 6)))
                    key = theme if theme in ("billing", "hikari", "outage") else ("thanks" if theme == "shop_good" else "generic")
                    rep = OFFICIAL_REPLY_EN if lang == "en" else OFFICIAL_REPLY_JA
                    rtext = rng.choice(rep[key]).format(h=a["handle"])
                    prev = self.add("official_reply", t, self.official_help, rtext, lang, platform="x", parent=prev, root=root)
                stage = stages[k - 1]
                if theme == "outage" and n == 2 and k == 1 and rng.random() < 0.5:
                    stage = stages[-1]  # short threads sometimes end with "復旧した"
                if theme == "outage":
                    t = t + dt.timedelta(minutes=rng.uniform(8, 30))
                    if stage is stages[1]:    # "1時間経っても…"
                        t = max(t, root["_t"] + dt.timedelta(minutes=rng.uniform(61, 75)))
                    if stage is stages[-1]:   # "復旧した" only after the 20:25 recovery
                        t = max(t, BURST_END - dt.timedelta(minutes=rng.uniform(0, 4)) + dt.timedelta(minutes=rng.uniform(0, 25)))
                else:
                    minutes = min(max(rng.lognormvariate(math.log(70), 1.1), 3), 14 * 60)
                    t = t + dt.timedelta(minutes=minutes)
                t = max(t, prev["_t"] + dt.timedelta(minutes=rng.uniform(2, 6)))
                if t >= WINDOW_END:
                    break
                text = self.unique(lambda: rng.choice(stage), lang, pol, cap=3, p_vary=0.25)
                prev = self.add("thread", t, a, text, lang, platform=plat, parent=prev, root=root)

    def gen_odd(self, n):
        rng = self.rng
        long_parts = JA_HIKARI + JA_BILLING + JA_SHOP
        kinds = ["long", "emoji", "url", "punct", "long", "emoji", "url", "punct", "multiline"]
        for i in range(n):
            k = kinds[i % len(kinds)]
            lang = "ja"
            if k == "long":
                parts, total = [], 0
                while total < 1000:
                    s = rng.choice(long_parts)
                    parts.append(s if s.endswith(("。", "？", "！")) else s + "。")
                    total += len(parts[-1])
                text = "【長文失礼します】" + "".join(parts)
                text = text[:1000]
            elif k == "emoji":
                text = rng.choice(ODD_EMOJI)
            elif k == "url":
                text = rng.choice(ODD_URLS)
                lang = "en" if "youtube" in text else "ja"
            elif k == "punct":
                text = rng.choice(ODD_PUNCT)
            else:
                text = ODD_MULTILINE[i % len(ODD_MULTILINE)]
            self.add("odd", self.random_time(), self.author(lang), text, lang, platform="x")

    def gen_noise(self, n):
        rng = self.rng
        for _ in range(n):
            lang = "en" if rng.random() < 0.22 else "ja"
            pool = EN_NOISE if lang == "en" else JA_NOISE
            text = self.unique(lambda: rng.choice(pool), lang, rng.choice(["pos", "neu", "neu", "neg"]), cap=3, p_vary=0.35, brand=False)
            self.add("noise", self.random_time(), self.author(lang), text, lang, platform=self.platform("noise"))

    def gen_spam(self, n):
        rng = self.rng
        spammers = [dict(id="u%08d" % rng.randrange(10**7, 10**8), handle=h, name=nm, followers=f, verified=False, _lang="ja", _w=0)
                    for h, nm, f in [("fukugyo_master7", "副業マスター💰", 12), ("free_gift_jp", "プレゼント企画🎁", 48),
                                     ("crypto_moon88", "Crypto Moon 🚀", 230), ("hoshizora_gift", "星空モバイル キャンペーン事務局", 5),
                                     ("sorapay_info24", "SoraPay サポート窓口", 9), ("brand_sale_99", "ブランド激安", 31)]]
        for _ in range(n):
            lang = "en" if rng.random() < 0.25 else "ja"
            pool = EN_SPAM if lang == "en" else JA_SPAM
            code = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))
            tpl = rng.choice(pool)
            if any(k in tpl for k in ("星空", "ソラペイ", "Hoshizora", "SoraPay")):  # phishing look-alikes
                url = rng.choice(["https://hoshizora-gift.example.net/?c=", "https://sorapay-verify.example.xyz/"]) + code
            else:
                url = rng.choice(["http://bit.example/", "https://lnk.example.com/", "https://fukugyo.example.org/"]) + code
            text = tpl.format(u=url)
            self.seen[text] += 1
            self.add("spam", self.random_time(), rng.choice(spammers), text, lang, platform=self.platform("spam"))

    def gen_brand(self, n):
        rng = self.rng
        for _ in range(n):
            lang = "en" if rng.random() < 0.18 else "ja"
            text, reviewable, minor_outage = self.brand_text(lang)
            plat = self.platform("brand" if reviewable else "brand_noreview")
            if plat != "x" and text.startswith("@hoshizora_"):
                text = text.split(" ", 1)[1]  # @-mentions only make sense on X
            p = self.add("brand", self.random_time(), self.author(lang), text, lang, platform=plat)
            p["_minor_outage"] = minor_outage

    def gen_reposts(self, n):
        rng = self.rng
        originals = [p for p in self.posts if p["_kind"] in ("official", "influencer")
                     or (p["_kind"] == "burst" and p["_author"]["followers"] >= 50000)]
        originals += [p for p in self.posts if p["_kind"] in ("brand", "burst") and p["_platform"] == "x"
                      and p["_author"]["followers"] > 3000]
        for _ in range(n):
            o = rng.choice(originals)
            big = o["_author"]["followers"] >= 50000
            delay = dt.timedelta(minutes=rng.lognormvariate(math.log(25 if big else 90), 1.0))
            t = o["_t"] + delay
            if t >= WINDOW_END:
                continue
            lang = o["lang"]
            self.add("repost", t, self.author(lang), o["text"], lang, platform="x", repost_of=o, boost=0.05)

    # --------------------------------------------------------------- finalise
    def run(self):
        self.gen_official()
        self.gen_influencers()
        self.gen_burst()
        self.gen_aftermath()
        self.gen_threads()
        fixed = len(self.posts)
        n_noise = round(TARGET_TOTAL * NOISE_SHARE)
        n_spam = round(TARGET_TOTAL * SPAM_SHARE)
        n_odd = round(TARGET_TOTAL * ODD_SHARE)
        n_repost = round(TARGET_TOTAL * REPOST_SHARE)
        n_brand = TARGET_TOTAL - fixed - n_noise - n_spam - n_odd - n_repost
        self.gen_noise(n_noise)
        self.gen_spam(n_spam)
        self.gen_odd(n_odd)
        self.gen_brand(n_brand)
        self.gen_reposts(n_repost)
        self.stats = collections.Counter(p["_kind"] for p in self.posts)
        self.stats["minor_outage_before_burst"] = sum(
            1 for p in self.posts if p.get("_minor_outage") and p["_t"] < BURST_START)
        return self.finalise()

    def engagement(self, p):
        rng = self.rng
        f = p["_author"]["followers"]
        if p["_kind"] in ("repost", "odd", "spam"):
            likes = int(rng.random() < 0.2) * rng.randint(0, 2)
            return dict(likes=likes, reposts=0, replies=0)
        mu = math.log1p(f * 0.012 * p["_boost"])
        likes = max(0, int(rng.lognormvariate(mu, 0.9)) - 1)
        reposts = int(likes * rng.uniform(0.02, 0.3))
        replies = int(likes * rng.uniform(0.01, 0.12)) + (1 if rng.random() < 0.08 else 0)
        return dict(likes=likes, reposts=reposts, replies=replies)

    def finalise(self):
        rng = self.rng
        for p in self.posts:
            assert WINDOW_START <= p["_t"] < WINDOW_END, p
        self.posts.sort(key=lambda p: p["_t"])
        used = set()
        prefix = {"x": "", "instagram": "ig_", "facebook": "fb_", "line": "line_", "review": "rv_"}
        for p in self.posts:
            ms = int(p["_t"].timestamp()) * 1000 + rng.randrange(1000)
            sf = ((ms - 1288834974657) << 22) | (rng.randrange(1024) << 12) | rng.randrange(4096)
            while sf in used:
                sf += 1
            used.add(sf)
            p["id"] = prefix[p["_platform"]] + str(sf)
        out = []
        for p in self.posts:
            a = p["_author"]
            plat = p["_platform"]
            pid = p["id"]
            num = pid.split("_")[-1]
            if plat == "x":
                url = "https://x.com/%s/status/%s" % (a["handle"], pid)
            elif plat == "instagram":
                url = "https://www.instagram.com/p/%s/" % base62(int(num))[-11:]
            elif plat == "facebook":
                url = "https://www.facebook.com/%s/posts/%s" % (a["handle"], num)
            elif plat == "review":
                url = "https://reviews.example.jp/hoshizora-mobile/%s" % num
            else:
                url = None
            root = p["_root"] or p
            out.append(collections.OrderedDict([
                ("id", pid),
                ("platform", plat),
                ("url", url),
                ("author", collections.OrderedDict([("id", a["id"]), ("handle", a["handle"]), ("name", a["name"]),
                                                    ("followers", a["followers"]), ("verified", bool(a["verified"]))])),
                ("conversation_id", root["id"]),
                ("in_reply_to", p["_parent"]["id"] if p["_parent"] else None),
                ("is_repost", p["_kind"] == "repost"),
                ("text", p["text"]),
                ("lang", p["lang"]),
                ("created_at", p["_t"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
                ("engagement", self.engagement(p)),
            ]))
        return out


def base62(n):
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
    s = ""
    while n:
        n, r = divmod(n, 64)
        s = chars[r] + s
    return s or "0"


def check_pools():
    """Brand texts must name a product; noise must not (except 星空 = night sky)."""
    brand = [t for pool, _, _ in JA_BRAND_CATS + EN_BRAND_CATS for t in pool] + JA_BURST + JA_BURST_LATE + EN_BURST + JA_AFTERMATH_NOW + JA_AFTERMATH_NEXT + EN_AFTERMATH_NOW + EN_AFTERMATH_NEXT
    for t in brand:
        assert any(k in t for k in BRAND_KEYWORDS), "brand text without product: " + t
    for t in JA_NOISE + EN_NOISE:
        assert not any(k in t for k in BRAND_KEYWORDS), "noise text names a product: " + t
    ja = {t for pool, _, _ in JA_BRAND_CATS for t in pool}
    en = {t for pool, _, _ in EN_BRAND_CATS for t in pool}
    assert len(ja) >= 400 and len(en) >= 150, (len(ja), len(en))
    return len(ja), len(en)


def main():
    n_ja, n_en = check_pools()
    gen = Gen()
    posts = gen.run()
    with open(OUT_PATH, "w", encoding="utf-8", newline="\n") as f:
        for p in posts:
            f.write(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n")
    print("wrote %d posts to %s (base pool: %d ja, %d en brand texts)" % (len(posts), OUT_PATH, n_ja, n_en))
    print("by kind:", ", ".join("%s=%d" % kv for kv in sorted(gen.stats.items())))


if __name__ == "__main__":
    main()
