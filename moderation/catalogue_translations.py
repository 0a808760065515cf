"""The writer-facing wording of catalogue version 1 in Spanish and Japanese (title,
description), loaded into PolicyTranslation by a data migration. Later versions
carry these over while their wording is unchanged (moderation.access)."""

TRANSLATIONS = {
    "engagement.self": {
        "es": (
            "Interactuar con tus propias cuentas",
            "No está permitido que varias cuentas gestionadas por una misma persona interactúen entre sí para ganar "
            "dinero. Medium permite tener varias cuentas, pero no puedes interactuar con tus propias cuentas.",
        ),
        "ja": (
            "自分のアカウント同士での反応",
            "一人が運営する複数のアカウントが、収益を得るために互いに反応し合うことは禁止されています。"
            "Medium では複数のアカウントを持つことはできますが、自分のアカウント同士で反応し合うことはできません。",
        ),
    },
    "engagement.ring": {
        "es": (
            "Círculos y redes de interacción",
            "Los círculos de interacción, las redes de aplauso por aplauso o de seguimiento por seguimiento y los "
            "clubes de lectura que intercambian lecturas inflan las ganancias y las clasificaciones, y no están "
            "permitidos.",
        ),
        "ja": (
            "エンゲージメントサークルとリング",
            "エンゲージメントサークル、拍手やフォローを交換し合うグループ、閲覧を交換し合う読書クラブは、"
            "収益やランキングを不正に押し上げるため禁止されています。",
        ),
    },
    "engagement.no_value_responses": {
        "es": (
            "Respuestas de poco esfuerzo para obtener atención recíproca",
            "No está permitido dejar grandes cantidades de respuestas de poco esfuerzo para atraer atención recíproca.",
        ),
        "ja": (
            "見返りの注目を狙った手抜きのレスポンス",
            "見返りの注目を集めるために、手抜きのレスポンスを大量に残すことは禁止されています。",
        ),
    },
    "engagement.bulk_interactions": {
        "es": (
            "Seguimientos, aplausos y destacados masivos",
            "No están permitidos los seguimientos, aplausos, destacados o notas desproporcionados, sobre todo los "
            "automatizados (spam de seguimientos).",
        ),
        "ja": (
            "フォロー・拍手・ハイライトの大量実行",
            "不釣り合いに多いフォロー、拍手、ハイライト、メモは禁止されています。"
            "自動化されたもの（フォロースパム）は特に禁止です。",
        ),
    },
    "spam.external_traffic": {
        "es": (
            "Publicar para atraer tráfico externo",
            "No está permitido publicar contenido principalmente para dirigir tráfico hacia un sitio, producto o "
            "servicio externo, o para mejorar su posicionamiento en los buscadores.",
        ),
        "ja": (
            "外部への集客を目的とした投稿",
            "外部のサイト、商品、サービスへの集客や、その検索順位を上げることを主な目的としてコンテンツを"
            "投稿することは禁止されています。",
        ),
    },
    "spam.scraped": {
        "es": (
            "Contenido extraído o republicado",
            "No está permitido extraer y volver a publicar contenido de otras fuentes con el propósito principal de "
            "obtener ingresos u otros beneficios personales.",
        ),
        "ja": (
            "スクレイピングまたは転載されたコンテンツ",
            "収益やその他の個人的な利益を主な目的として、他のソースからコンテンツを収集して転載することは"
            "禁止されています。",
        ),
    },
    "spam.duplicate": {
        "es": (
            "Contenido duplicado",
            "No está permitido publicar contenido duplicado, ya sea desde una sola cuenta o desde varias.",
        ),
        "ja": (
            "重複コンテンツ",
            "一つのアカウントからでも複数のアカウントにまたがってでも、重複したコンテンツを投稿することは"
            "禁止されています。",
        ),
    },
    "spam.clipped": {
        "es": (
            "Historias recortadas",
            "No está permitido cortar una historia de modo que los lectores tengan que ir a otro sitio para "
            "terminarla.",
        ),
        "ja": (
            "途中で切られたストーリー",
            "読者が続きを読むために別のサイトへ移動しなければならないよう、ストーリーを途中で切ることは"
            "禁止されています。",
        ),
    },
    "spam.promotional_interactions": {
        "es": (
            "Respuestas, menciones y etiquetas promocionales",
            "No está permitido usar respuestas, menciones o etiquetas de forma repetida como publicidad.",
        ),
        "ja": (
            "宣伝目的のレスポンス、メンション、タグ",
            "レスポンス、メンション、タグを宣伝のために繰り返し使うことは禁止されています。",
        ),
    },
    "spam.brigade": {
        "es": (
            "Campañas de recompensas y ataques coordinados",
            "No están permitidas las campañas de recompensas ni las acciones coordinadas que inflan las "
            "clasificaciones.",
        ),
        "ja": (
            "報酬キャンペーンと組織的な集団行動",
            "ランキングを不正に押し上げる報酬キャンペーンや組織的な集団行動は禁止されています。",
        ),
    },
    "spam.templates": {
        "es": (
            "Publicaciones a partir de plantillas",
            "No están permitidas las publicaciones casi idénticas hechas con plantillas en varias historias o cuentas.",
        ),
        "ja": (
            "テンプレートによる投稿",
            "複数のストーリーやアカウントにまたがる、テンプレートを使ったほぼ同一の投稿は禁止されています。",
        ),
    },
    "spam.automation": {
        "es": (
            "Registro, publicación o interacción automatizados",
            "No está permitido registrarse, publicar o interactuar mediante programas.",
        ),
        "ja": (
            "自動化された登録・投稿・反応",
            "プログラムによって登録、投稿、反応を行うことは禁止されています。",
        ),
    },
    "deception.revenue": {
        "es": (
            "Engaño para generar ingresos o tráfico",
            "No está permitido engañar a los lectores o al Programa de Socios para generar ingresos o tráfico.",
        ),
        "ja": (
            "収益や集客のための欺瞞",
            "収益や集客のために読者やパートナープログラムを欺くことは禁止されています。",
        ),
    },
    "ai.paywalled_generated": {
        "es": (
            "Textos generados por IA detrás del muro de pago",
            "No está permitido poner detrás del muro de pago, dentro del Programa de Socios, textos generados por IA "
            "(se indique o no). Las historias pueden retirarse del muro de pago y, si se repite, la inscripción en "
            "el Programa de Socios puede revocarse.",
        ),
        "ja": (
            "ペイウォール内の AI 生成文章",
            "AI が生成した文章は（その旨を開示しているかどうかにかかわらず）、パートナープログラムの一環として"
            "ペイウォールの内側に置くことはできません。ストーリーはペイウォールから外されることがあり、"
            "繰り返された場合はパートナープログラムへの登録が取り消されることがあります。",
        ),
    },
    "ai.undisclosed_generated": {
        "es": (
            "Textos generados por IA sin indicarlo",
            "Los textos generados por IA que no lo indican reciben distribución «Solo red»: se muestran "
            "únicamente a los seguidores y suscriptores del autor.",
        ),
        "ja": (
            "開示されていない AI 生成文章",
            "AI が生成したことを開示していない文章は「ネットワーク限定」配信となり、"
            "著者のフォロワーと購読者にのみ表示されます。",
        ),
    },
    "ai.undisclosed_assisted": {
        "es": (
            "Textos escritos con ayuda de IA sin indicarlo",
            "Una historia escrita con ayuda de IA debe indicarlo en los dos primeros párrafos; si no lo hace, recibe "
            "distribución «Solo red».",
        ),
        "ja": (
            "開示のない AI 支援による文章",
            "AI の支援を受けたストーリーは、最初の2段落以内にその旨を開示する必要があります。"
            "開示がない場合、そのストーリーは「ネットワーク限定」配信となります。",
        ),
    },
    "ai.image_uncaptioned": {
        "es": (
            "Imagen generada por IA sin pie de foto",
            "Las imágenes generadas por IA deben llevar un pie que lo indique; sin él, la historia recibe "
            "distribución «Solo red».",
        ),
        "ja": (
            "キャプションのない AI 生成画像",
            "AI が生成した画像には、その旨のキャプションを付ける必要があります。"
            "キャプションがない場合、そのストーリーは「ネットワーク限定」配信となります。",
        ),
    },
    "ai.disclosed_generated": {
        "es": (
            "Textos generados por IA indicados como tales (fuera del muro de pago)",
            "Los textos generados por IA que lo indican y no están detrás del muro de pago están permitidos y pueden "
            "recibir distribución general, pero no Boost.",
        ),
        "ja": (
            "開示された AI 生成文章（ペイウォール外）",
            "AI が生成したことを開示し、ペイウォールの内側に置かれていない文章は認められており、"
            "一般配信の対象になりますが、Boost の対象にはなりません。",
        ),
    },
    "ai.seo_affiliate": {
        "es": (
            "Contenido de IA para posicionamiento en buscadores y enlaces de afiliados",
            "No está permitido el contenido de IA creado para posicionarse en los buscadores y promocionar enlaces "
            "de afiliados.",
        ),
        "ja": (
            "検索順位とアフィリエイトリンクのための AI コンテンツ",
            "検索で上位に表示させ、アフィリエイトリンクへ誘導するために作られた AI コンテンツは禁止されています。",
        ),
    },
    "ai.derivative_remix": {
        "es": (
            "Refritos con IA de la obra de otra persona",
            "Usar IA para reformular, resumir o mezclar la obra de otra persona es plagio y no está permitido.",
        ),
        "ja": (
            "他人の作品の AI による改変",
            "AI を使って他人の作品を言い換えたり、要約したり、組み替えたりすることは盗用であり、禁止されています。",
        ),
    },
    "ai.prohibited_tooling": {
        "es": (
            "Promoción de herramientas de IA con fines ilegales o poco éticos",
            "No está permitido el contenido que promociona herramientas de IA con fines ilegales o poco éticos.",
        ),
        "ja": (
            "違法または非倫理的な目的での AI ツールの宣伝",
            "違法または非倫理的な目的で AI ツールを宣伝するコンテンツは禁止されています。",
        ),
    },
}


def translation_rows():
    """(code, language, title, description) for every translated v1 rule."""
    for code, languages in TRANSLATIONS.items():
        for language, (title, description) in sorted(languages.items()):
            yield code, language, title, description
