.class public Lorg/pilmon/test/Uris;
.super Ljava/lang/Object;

# Where a content URI read from a static field goes (OnlyPassedTo). A method named only* passes
# it to nothing but an Intent's Uri parameters on every path; a method named used* lets it
# reach something else on at least one path.

.field public static keep:Landroid/net/Uri;

.method public static onlyPick(Landroid/app/Activity;)V
    .registers 4
    new-instance v0, Landroid/content/Intent;
    const-string v1, "android.intent.action.PICK"
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    invoke-direct {v0, v1, v2}, Landroid/content/Intent;-><init>(Ljava/lang/String;Landroid/net/Uri;)V
    const-string v1, "image/*"
    invoke-virtual {v0, v2, v1}, Landroid/content/Intent;->setDataAndType(Landroid/net/Uri;Ljava/lang/String;)Landroid/content/Intent;
    const/16 v1, 0x7d0
    invoke-virtual {p0, v0, v1}, Landroid/app/Activity;->startActivityForResult(Landroid/content/Intent;I)V
    return-void
.end method

.method public static onlyUnused()Landroid/net/Uri;
    .registers 3
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    const/4 v2, 0x0
    return-object v2
.end method

.method public static onlySwitch(ILandroid/content/Intent;)V
    .registers 400
    sget-object v2, Landroid/provider/MediaStore$Video$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    move-object/16 v300, v2
    move/from16 v1, p0
    packed-switch v1, :ps
    invoke-virtual {v0, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    return-void
    :a
    move-object/from16 v18, p1
    move-object/from16 v19, v300
    invoke-virtual/range {v18 .. v19}, Landroid/content/Intent;->setDataAndNormalize(Landroid/net/Uri;)Landroid/content/Intent;
    return-void
    :b
    move-object/from16 v3, v300
    invoke-virtual {v0, v3}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    goto :b
    :ps
    .packed-switch 0x1
        :a
        :b
    .end packed-switch
.end method

.method public static onlyCaught(Landroid/content/Intent;)V
    .registers 4
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    :try_start
    invoke-virtual {p0, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    const/4 v2, 0x0
    :try_end
    .catch Ljava/lang/RuntimeException; {:try_start .. :try_end} :h
    return-void
    :h
    move-exception v2
    throw v2
.end method

.method public static usedCaught(Landroid/content/Intent;)V
    .registers 4
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    :try_start
    invoke-virtual {p0, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    const/4 v2, 0x0
    :try_end
    .catchall {:try_start .. :try_end} :h
    return-void
    :h
    sput-object v2, Lorg/pilmon/test/Uris;->keep:Landroid/net/Uri;
    return-void
.end method

.method public static usedSwitch(I)Landroid/net/Uri;
    .registers 400
    sget-object v2, Landroid/provider/MediaStore$Video$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    move-object/16 v300, v2
    const/4 v2, 0x0
    move/from16 v1, p0
    sparse-switch v1, :ss
    return-object v2
    :a
    move-object/from16 v3, v300
    return-object v3
    :ss
    .sparse-switch
        0x10 -> :a
    .end sparse-switch
.end method

.method public static usedLoop(Landroid/content/Intent;Landroid/content/ContentResolver;)V
    .registers 4
    const/4 v1, 0x0
    :top
    if-nez v1, :q
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    invoke-virtual {p0, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    const/4 v1, 0x1
    goto :top
    :q
    invoke-virtual {p1, v2, v0}, Landroid/content/ContentResolver;->delete(Landroid/net/Uri;Ljava/lang/String;[Ljava/lang/String;)I
    return-void
.end method

.method public static usedWideSlot(Landroid/content/Intent;)V
    .registers 4
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    invoke-virtual {p0, v1, v2, v3}, Landroid/content/Intent;->putExtra(JLandroid/net/Uri;)V
    return-void
.end method

.method public static usedAsReceiver(Landroid/content/Intent;)V
    .registers 4
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    invoke-virtual {v2, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;
    return-void
.end method

.method public static usedCompared(Landroid/content/Intent;Landroid/net/Uri;)V
    .registers 4
    sget-object v2, Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;
    if-eq v2, p1, :x
    :x
    return-void
.end method
