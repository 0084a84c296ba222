.class public Lcom/example/app/Sync;
.super Ljava/lang/Object;

.method public run()V
    .registers 2
    const-string v0, "https://ulogs.umeng.com/other"
    return-void
.end method
