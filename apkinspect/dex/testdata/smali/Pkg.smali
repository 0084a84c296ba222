.class public Lcom/example/app/Main;
.super Ljava/lang/Object;

.method public apps(Landroid/content/Context;)V
    .registers 4
    invoke-virtual {p1}, Landroid/content/Context;->getPackageManager()Landroid/content/pm/PackageManager;
    move-result-object v0
    const/4 v1, 0
    invoke-virtual {v0, v1}, Landroid/content/pm/PackageManager;->getInstalledPackages(I)Ljava/util/List;
    sget-object v2, Landroid/os/Build;->SERIAL:Ljava/lang/String;
    return-void
.end method
