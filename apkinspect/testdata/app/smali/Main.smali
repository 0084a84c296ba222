.class public Lcom/example/app/Main;
.super Ljava/lang/Object;

.method public apps(Landroid/content/Context;)Ljava/util/List;
    .registers 4
    invoke-virtual {p1}, Landroid/content/Context;->getPackageManager()Landroid/content/pm/PackageManager;
    move-result-object v0
    const/4 v1, 0
    invoke-virtual {v0, v1}, Landroid/content/pm/PackageManager;->getInstalledPackages(I)Ljava/util/List;
    move-result-object v0
    const-string v1, "http://api.example.cn/v2/collect"
    const-string v1, "https://www.example.cn/h5/privacy.html"
    const-string v1, "隐私政策"
    return-object v0
.end method
